"""`rightsflow retention purge`: purge the records of requests closed longer ago than the
retention period (the worker also does this daily on a schedule).

Counts only, never ids or data. `--dry-run` counts what would go and changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rightsflow.bootstrap import build_runtime
from rightsflow.cli.common import guarded, settings_from
from rightsflow.services import retention

app = typer.Typer(help="Retention of request records.", no_args_is_help=True)
out = Console()

DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")
]
DaysOpt = Annotated[
    int | None,
    typer.Option(
        "--older-than-days",
        min=1,
        help="Purge requests closed more than N days ago (default: the retention_days setting).",
    ),
]
BatchOpt = Annotated[int, typer.Option(min=1, max=10_000, help="Requests per transaction.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
MapOpt = Annotated[Path | None, typer.Option("--datamap", help="Data map directory.")]


@app.command()
def purge(
    dry_run: DryRunOpt = False,
    older_than_days: DaysOpt = None,
    batch_size: BatchOpt = retention.DEFAULT_BATCH,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Destroy the data keys and delete the records of requests closed long enough ago; the
    request's non-personal facts and its audit trail stay."""
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)
    days = older_than_days or settings.retention_days

    def run() -> retention.PurgeReport:
        runtime = build_runtime(settings)
        try:
            platform = runtime.platform
            cutoff = retention.cutoff_for(platform.clock(), days)
            if dry_run:
                return retention.survey(platform, cutoff, batch_size)
            total = retention.eligible(platform, cutoff)
            with _progress() as progress:
                task = progress.add_task("purging", total=total)
                return retention.purge(
                    platform,
                    cutoff,
                    batch_size=batch_size,
                    on_batch=lambda done: progress.advance(task, done.requests),
                )
        finally:
            runtime.close()

    report = guarded(run)
    _print(report, days)


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )


def _print(report: retention.PurgeReport, days: int) -> None:
    verb = "would purge" if report.dry_run else "purged"
    closed = report.cutoff.isoformat(timespec="seconds")
    out.print(
        f"{verb} {report.requests} request(s) closed before {closed} ({days} days)",
        highlight=False,
    )
    table = Table("records", "count", box=None)
    for name, count in sorted(report.rows.items()):
        table.add_row(name, str(count))
    table.add_row("package files", str(report.packages))
    if not report.dry_run:
        table.add_row("data keys destroyed", str(report.keys_destroyed))
    if report.requests:
        out.print(table)
    if report.dry_run:
        out.print("dry run: nothing was changed")
