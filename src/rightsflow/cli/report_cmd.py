"""`rightsflow report ccpa` and `rightsflow report summary`: the regulatory reports, read from
the app database the server uses, printed (or written) exactly as the API answers them.

Only the app database is needed (no data map, no Temporal); the database is read, never
migrated or created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from rightsflow.cli.common import fail, settings_from
from rightsflow.config import Settings
from rightsflow.domain.errors import InvalidInput, RightsflowError
from rightsflow.services import reports
from rightsflow.services.reports import Cell, Format
from rightsflow.storage.migrate import make_engine
from rightsflow.storage.uow import SqlUnitOfWorkFactory

app = typer.Typer(help="Regulatory reports: CCPA §7102 metrics, and a summary per regime.")

FormatOpt = Annotated[str, typer.Option("--format", help="json or csv.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", help="Write the report to this file (default stdout).")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (the app database).")]
# Builds the report from a unit of work factory: the JSON document and its rows (the CSV).
Build = Callable[[SqlUnitOfWorkFactory], tuple[dict[str, Any], list[dict[str, Cell]]]]


def _now() -> datetime:
    return datetime.now(UTC)


def _engine_url(settings: Settings) -> str:
    """The app database URL; a SQLite file must already exist (reading never creates one)."""
    url = settings.app_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.is_file():
            fail(f"no app database at {path}: run `rightsflow serve` with this data dir first")
    return url


def _render(document: dict[str, Any], rows: list[dict[str, Cell]], fmt: Format) -> str:
    if fmt is Format.CSV:
        return reports.to_csv(rows)
    return json.dumps(document, indent=2) + "\n"


def _run(settings: Settings, fmt: str, output: Path | None, build: Build) -> None:
    try:
        chosen = reports.parse_format(fmt)
        engine = make_engine(_engine_url(settings))
        try:
            document, rows = build(SqlUnitOfWorkFactory(engine))
        finally:
            engine.dispose()
    except InvalidInput as exc:
        fail(f"--{exc.field or 'input'}: {exc}")
    except RightsflowError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        # Never the URL or the statement: either could carry secrets.
        fail(f"cannot read the app database ({type(exc).__name__}); is it up and migrated?")
    text = _render(document, rows, chosen)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}", err=True)


@app.command()
def ccpa(
    year: Annotated[int, typer.Option("--year", help="The calendar year (California time).")],
    fmt: FormatOpt = "json",
    output: OutputOpt = None,
    all_regimes: Annotated[
        bool,
        typer.Option("--all-regimes", help="Count every individual's requests (§7102(b))."),
    ] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """CCPA §7102 metrics for a year: received, complied with (in whole, in part), denied
    (by ground and reason), and the mean and median days to respond, per kind of request."""
    settings = settings_from(config, data_dir=data_dir)

    def build(uow: SqlUnitOfWorkFactory) -> tuple[dict[str, Any], list[dict[str, Cell]]]:
        report = reports.ccpa(uow, _now, year, all_regimes=all_regimes)
        document = reports.ccpa_document(report, _now)
        return document, document["rows"]

    _run(settings, fmt, output, build)


@app.command()
def summary(
    first_day: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last_day: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (included).")],
    regime: Annotated[str | None, typer.Option(help="One regime, e.g. gdpr.")] = None,
    tz: Annotated[str, typer.Option(help="Time zone of the days (IANA name).")] = "UTC",
    fmt: FormatOpt = "json",
    output: OutputOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Counts per regime and request type for a range of days, with the on-time rate and how
    many are still open past their due date."""
    settings = settings_from(config, data_dir=data_dir)

    def build(uow: SqlUnitOfWorkFactory) -> tuple[dict[str, Any], list[dict[str, Cell]]]:
        report = reports.summary(uow, _now, first_day, last_day, regime=regime, timezone=tz)
        document = reports.summary_document(report, _now)
        return document, document["rows"]

    _run(settings, fmt, output, build)
