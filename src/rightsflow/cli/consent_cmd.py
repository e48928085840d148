"""`rightsflow consent ...`: the consent group. `set` records choices in the ledger,
`history` shows a subject's records, `link` carries a device's or email's choices to a user
(services/consent.py); the catalogue's `purposes` and `notices` are sub-groups of it.

Output names records and purposes only, never the subject given on the command line. A write
that withdraws consent is propagated by a running `rightsflow serve` / worker only when this
process has a propagator (the CLI's own runtime has none): the record says what to propagate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.bootstrap import build_runtime
from rightsflow.cli import consent_catalog_cmd, experiments_cmd
from rightsflow.cli.common import fail, guarded, settings_from
from rightsflow.domain.consent import (
    Choice,
    ConsentWrite,
    LedgerEntry,
    NoticeRef,
    Signals,
    Source,
    SubjectRef,
)
from rightsflow.services import consent

ACTOR = "cli"
app = typer.Typer(help="Consent: choices, history, links, purposes, notices.", no_args_is_help=True)
app.add_typer(consent_catalog_cmd.purposes_app, name="purposes")
app.add_typer(consent_catalog_cmd.notices_app, name="notices")
app.add_typer(experiments_cmd.app, name="experiments")
out = Console()

SubjectArg = Annotated[
    str, typer.Argument(help="user_id:<id>, device_id:<id> or email:<address> (bare: user id)")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
MapOpt = Annotated[Path | None, typer.Option("--datamap", help="Data map directory.")]
RegimeOpt = Annotated[
    str | None, typer.Option("--regime", help="e.g. gdpr, ccpa (default: consent_regime)")
]
_YES, _NO = frozenset({"yes", "y", "true", "1", "on"}), frozenset({"no", "n", "false", "0", "off"})


def parse_choices(texts: Sequence[str]) -> tuple[Choice, ...]:
    """`purpose=yes|no` words; a bad one is a one-line error naming its position."""
    choices: list[Choice] = []
    for position, text in enumerate(texts, start=1):
        purpose, sep, answer = text.partition("=")
        word = answer.strip().lower()
        if not sep or not purpose.strip() or word not in _YES | _NO:
            fail(f"choice {position}: expected purpose=yes or purpose=no")
        choices.append(Choice(purpose.strip(), word in _YES))
    return tuple(choices)


def parse_notice(text: str | None) -> NoticeRef | None:
    if text is None:
        return None
    key, sep, version = text.rpartition(":")
    if not sep or not key or not version.isdigit():
        fail("--notice: expected KEY:VERSION, e.g. banner:3")
    return NoticeRef(key, int(version))


def _entries_table(entries: Sequence[LedgerEntry]) -> Table:
    table = Table("purpose", "asked", "effective", "source", "resolution", box=None)
    for e in entries:
        asked, now = ("yes" if e.granted else "no"), ("yes" if e.effective else "no")
        table.add_row(e.purpose, asked, now, e.source.value, e.resolution or "")
    return table


def _print_outcome(outcome: consent.RecordOutcome) -> None:
    out.print(f"record {outcome.record_id}", highlight=False)
    if outcome.entries:
        out.print(_entries_table(outcome.entries))
    else:
        out.print("nothing changed")
    if outcome.withdrawn:
        out.print(f"withdrawn: {', '.join(outcome.withdrawn)}", highlight=False)


@app.command("set")
def set_choices(
    subject: SubjectArg,
    choices: Annotated[list[str], typer.Argument(help="purpose=yes|no ...")],
    source: Annotated[str, typer.Option(help="banner, preferences, api, agent, drp")] = "api",
    regime: RegimeOpt = None,
    notice: Annotated[str | None, typer.Option(help="The notice shown, KEY:VERSION")] = None,
    gpc: Annotated[bool, typer.Option("--gpc", help="The person's browser sent GPC")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
) -> None:
    """Record a subject's choices (one ledger record)."""
    if source not in {s.value for s in Source} - {Source.LINK.value}:
        fail("--source: expected banner, preferences, api, gpc, agent or drp")
    parsed, ref = parse_choices(choices), parse_notice(notice)
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> consent.RecordOutcome:
        runtime = build_runtime(settings)
        try:
            platform = runtime.platform
            write = ConsentWrite(
                subject=SubjectRef.parse(subject),
                choices=parsed,
                source=Source(source),
                regime=regime or platform.consent_regime,
                notice=ref,
                signals=Signals(gpc=gpc),
                actor=ACTOR,
            )
            return consent.record(platform, write)
        finally:
            runtime.close()

    _print_outcome(guarded(run))


@app.command()
def history(
    subject: SubjectArg,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Records to show")] = 50,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
) -> None:
    """A subject's consent records, oldest first."""
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> consent.HistoryPage:
        runtime = build_runtime(settings)
        try:
            return consent.history(runtime.platform, SubjectRef.parse(subject), None, limit)
        finally:
            runtime.close()

    page = guarded(run)
    if not page.items:
        out.print("no records")
    for record, entries in page.items:
        when = record.recorded_at.isoformat(timespec="seconds")
        notice = f" notice {record.notice.key}:{record.notice.version}" if record.notice else ""
        gpc = " gpc" if record.gpc else ""
        out.print(
            f"{when} {record.source.value} {record.regime}{notice}{gpc} record {record.id}",
            highlight=False,
        )
        if entries:
            out.print(_entries_table(entries))
    if page.next_after is not None:
        out.print(f"(more: showing the first {limit})")


@app.command()
def link(
    from_subject: Annotated[str, typer.Argument(help="device_id:<id> or email:<address>")],
    user: Annotated[str, typer.Argument(help="The user id they signed in as")],
    regime: RegimeOpt = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
) -> None:
    """Carry a device's (or email's) choices to a user who signed in."""
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> consent.RecordOutcome:
        runtime = build_runtime(settings)
        try:
            platform = runtime.platform
            source = SubjectRef.parse(from_subject)
            chosen = regime or platform.consent_regime
            return consent.link(platform, source, user, chosen, actor=ACTOR)
        finally:
            runtime.close()

    _print_outcome(guarded(run))
