"""`rightsflow keys`: the KEK versions that wrap the per-request data keys, and their rotation.

`keys rotate` adds a KEK version and re-wraps every live data key under it (resumable,
idempotent; the service keeps running: readers unwrap with either version meanwhile);
`--retire-old` then waits until every process has seen the new version, re-wraps any key made
under the old one meanwhile, and retires the old versions. `keys retire` does only that last
step. `keys status` shows the versions and how many keys each wraps. Counts only: never a key,
a key id's secret, or a request id. Each rotation and retirement is audited (counts only).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from rightsflow.bootstrap import KeyAdmin, open_key_admin, utc_now
from rightsflow.cli.common import guarded, settings_from
from rightsflow.domain.errors import RightsflowError
from rightsflow.services import audit
from rightsflow.storage import kek_rotation
from rightsflow.storage.kek import RING_REFRESH_S

app = typer.Typer(help="Key-encryption keys: status, rotation, retirement.", no_args_is_help=True)
out = Console()
AUDIT_SUBJECT = "keys"  # audit events of the key ring belong to no request
ACTOR = "cli"

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
BatchOpt = Annotated[int, typer.Option(min=1, max=10_000, help="Keys per batch.")]
RetireOpt = Annotated[
    bool, typer.Option("--retire-old", help="Then retire the older versions (waits for peers).")
]


@app.command()
def status(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """KEK versions and how many live data keys each wraps."""
    settings = settings_from(config, data_dir=data_dir)
    admin = guarded(lambda: open_key_admin(settings))
    try:
        versions, counts = admin.keys.versions(), admin.keys.counts()
    finally:
        admin.close()
    table = Table("version", "key id", "created", "retired", "live keys")
    for v in versions:
        retired = v.retired_at.isoformat(timespec="seconds") if v.retired_at else "-"
        created = v.created_at.isoformat(timespec="seconds")
        table.add_row(str(v.version), v.key_id, created, retired, str(counts.get(v.version, 0)))
    out.print(table)
    out.print(f"destroyed keys (tombstones): {counts.get(None, 0)}")


@app.command()
def rotate(
    retire_old: RetireOpt = False,
    batch_size: BatchOpt = kek_rotation.DEFAULT_BATCH,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add a KEK version and re-wrap every live data key under it (or finish an interrupted
    rotation); safe to run while Rightsflow serves."""
    settings = settings_from(config, data_dir=data_dir)

    def run() -> kek_rotation.RotationReport:
        admin = open_key_admin(settings)
        try:
            return _rotate(admin, batch_size, retire_old=retire_old)
        finally:
            admin.close()

    report = guarded(run)
    verb = "rotated to" if report.started else "finished the rotation to"
    out.print(
        f"{verb} version {report.version}: {report.rewrapped} keys re-wrapped, "
        f"{report.skipped} changed meanwhile"
    )
    if report.retired:
        out.print(f"retired versions: {', '.join(map(str, report.retired))}")


@app.command()
def retire(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Retire the KEK versions older than the active one (once none wraps a live key)."""
    settings = settings_from(config, data_dir=data_dir)

    def run() -> tuple[int, ...]:
        admin = open_key_admin(settings)
        try:
            return _retire(admin, kek_rotation.active_version(admin.keys))
        finally:
            admin.close()

    retired = guarded(run)
    out.print(f"retired versions: {', '.join(map(str, retired)) or 'none'}")


def _rotate(admin: KeyAdmin, batch: int, *, retire_old: bool) -> kek_rotation.RotationReport:
    report = kek_rotation.begin(admin.keys, admin.provider, admin.ring)
    with _progress() as progress:
        task = progress.add_task("re-wrapping", total=kek_rotation.pending(admin.keys))
        kek_rotation.rewrap(
            admin.keys, admin.ring, report, batch, lambda n: progress.advance(task, n)
        )
    _audit(admin, "keys.rotated", version=report.version, started=report.started,
           rewrapped=report.rewrapped, skipped=report.skipped)  # fmt: skip
    if retire_old:
        _wait_for_peers(admin, report.version)
        kek_rotation.rewrap(admin.keys, admin.ring, report, batch)  # made meanwhile
        report.retired = _retire(admin, report.version)
    return report


def _wait_for_peers(admin: KeyAdmin, version: int) -> None:
    """Until every process has reloaded its KEK ring since `version` was added."""
    created = next(v.created_at for v in admin.keys.versions() if v.version == version)
    left = RING_REFRESH_S - (utc_now() - created).total_seconds()
    if left > 0:
        out.print(f"waiting {left:.0f} s for other processes to see version {version}")
        time.sleep(left + 0.5)


def _retire(admin: KeyAdmin, version: int) -> tuple[int, ...]:
    if version != kek_rotation.active_version(admin.keys):
        raise RightsflowError("a newer KEK version was added meanwhile: run keys rotate again")
    retired = kek_rotation.retire_older(admin.keys, RING_REFRESH_S)
    if retired:
        _audit(admin, "keys.retired", version=version, retired=list(retired))
    return retired


def _audit(admin: KeyAdmin, action: str, **detail: object) -> None:
    with admin.uow() as uow:
        audit.record(uow, AUDIT_SUBJECT, action, utc_now(), actor=ACTOR, **detail)
        uow.commit()


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=out,
        transient=True,
    )
