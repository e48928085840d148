"""`rightsflow audit verify` and `rightsflow audit export`: check the audit trail's hash chain
and write (some of) it out as JSON lines, straight from the app database.

Exit codes: 0 intact (or exported), 1 the chain is broken (the first broken event is named),
2 the database or the settings could not be read, or a filter is not valid.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO, TypeVar

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from rightsflow.config import load_settings
from rightsflow.domain.audit_chain import AuditFilter, ChainReport, format_time
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import audit_log
from rightsflow.storage.migrate import make_engine
from rightsflow.storage.uow import SqlUnitOfWorkFactory

UNREADABLE = 2
T = TypeVar("T")

app = typer.Typer(help="Check the audit trail's hash chain and export it as JSON lines.")

DataDirOpt = Annotated[Path | None, typer.Option(help="Data dir holding the app database.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]


def _stop(message: str, code: int = UNREADABLE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _database_url(config: Path | None, data_dir: Path | None) -> str:
    try:
        settings = load_settings(config, data_dir=data_dir)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise _stop(f"invalid setting {where}") from None
    except FileNotFoundError as exc:
        raise _stop(str(exc)) from None
    url = settings.app_database_url
    parsed = sa.make_url(url)
    # Reading must not create an empty database where none was (SQLite would).
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if database and not Path(database).is_file():
        raise _stop(f"no app database at {database}")
    return url


@contextmanager
def _units_of_work(config: Path | None, data_dir: Path | None) -> Iterator[SqlUnitOfWorkFactory]:
    engine = make_engine(_database_url(config, data_dir))
    try:
        yield SqlUnitOfWorkFactory(engine)
    finally:
        engine.dispose()


def _reading(call: Callable[[], T]) -> T:
    try:
        return call()
    except SQLAlchemyError as exc:
        # The driver's message may quote the URL or SQL: name the kind of failure only.
        raise _stop(f"cannot read the audit trail ({type(exc).__name__})") from None


def _print_report(report: ChainReport) -> None:
    broken = report.broken
    if broken is None:
        typer.echo(f"ok: {report.events} events, chain intact")
        if report.head_id is not None:
            typer.echo(f"head: event {report.head_id}, sha256 {report.head_hash}")
        if report.legacy:
            typer.echo(f"skipped: {report.legacy} events from before the chain began (no hash)")
        return
    typer.echo(
        f"broken: event {broken.event_id} ({format_time(broken.at)}, {broken.action}) "
        f"{broken.kind}: {broken.reason}"
    )
    typer.echo(f"{report.events} events before it are intact")
    raise typer.Exit(1)


@app.command()
def verify(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Check the hash chain over the whole trail, a page at a time. Exit 0 intact, 1 broken
    (the first broken event and what is wrong), 2 the database cannot be read."""
    with _units_of_work(config, data_dir) as uow:
        report = _reading(lambda: audit_log.verify(uow))
    _print_report(report)


def _export_filters(
    request_id: str | None,
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    try:
        return audit_log.filter_from(request_id, actor, action, since, until)
    except InvalidInput as exc:
        raise _stop(f"invalid --{exc.field}: {exc}") from None


def _write(lines: Iterator[str], out: TextIO) -> int:
    count = 0
    for line in lines:
        out.write(line)
        count += 1
    return count


@app.command()
def export(
    request: Annotated[str | None, typer.Option("--request", help="Only this request.")] = None,
    actor: Annotated[str | None, typer.Option(help="e.g. bootstrap:owner, system")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. request.status_changed")] = None,
    since: Annotated[str | None, typer.Option(help="at >= since (ISO-8601 + zone)")] = None,
    until: Annotated[str | None, typer.Option(help="at < until (ISO-8601 + zone)")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the matching events as JSON lines, oldest first, each with its hash."""
    filters = _export_filters(request, actor, action, since, until)
    with _units_of_work(config, data_dir) as uow:
        lines = audit_log.json_lines(audit_log.events(uow, filters))
        if output is None:
            count = _reading(lambda: _write(lines, sys.stdout))
        else:
            try:
                with output.open("w", encoding="utf-8") as out:
                    count = _reading(lambda: _write(lines, out))
            except OSError as exc:
                raise _stop(f"cannot write {output}: {exc.strerror or exc}", 1) from None
    typer.echo(f"exported {count} events", err=True)
