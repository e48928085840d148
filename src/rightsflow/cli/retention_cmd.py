"""`rightsflow retention purge`: purge the records of requests closed longer ago than the
retention period (the worker also does this daily on a schedule). `retention rules`,
`retention sweep RULE [--dry-run]` and `retention runs`: the data map's retention rules over
the company's systems (services/sweeps.py).

Counts only, never ids or data. `--dry-run` counts what would go and changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rightsflow.bootstrap import build_runtime, load_map
from rightsflow.cli.common import guarded, settings_from
from rightsflow.connectors.registry import default_registry
from rightsflow.domain.retention_rules import RetentionRule
from rightsflow.domain.sweep_records import SweepRun
from rightsflow.services import retention, sweeps
from rightsflow.services.sweep_plan import rule_for
from rightsflow.storage.sweep_repository import sweep_transactions

app = typer.Typer(
    help="Retention: of request records (purge) and of the data map's data (sweeps).",
    no_args_is_help=True,
)
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


# -- retention sweeps of the company's data (the data map's `retention:` rules) ----------------


@app.command()
def rules(datamap: MapOpt = None, config: ConfigOpt = None) -> None:
    """The data map's retention rules and the collections each sweeps."""
    settings = settings_from(config, datamap_dir=datamap)
    datamap_rules = guarded(lambda: load_map(settings, default_registry())[0].retention)
    table = Table(
        "rule", "target", "age field", "max age", "action", "schedule", "collections", box=None
    )
    for r in datamap_rules:
        cols = ", ".join(r.collections)
        table.add_row(r.key, r.target, r.age_field, str(r.max_age), r.action, r.schedule, cols)
    out.print(table if datamap_rules else "no retention rules (add retention.yml to the data map)")


@app.command("sweep")
def sweep_cmd(
    rule: Annotated[str, typer.Argument(help="The rule's key.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be swept; change nothing.")
    ] = False,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run a retention rule now, in this process, with a progress bar (or only count)."""
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> SweepRun:
        runtime = build_runtime(settings)
        try:
            service = sweeps.Sweeps(runtime.platform, sweep_transactions(runtime.platform.uow))
            found = rule_for(runtime.platform, rule)
            if dry_run:
                return sweeps.begin(service, found, dry_run=True, actor="cli")
            return _sweep_with_progress(service, found)
        finally:
            runtime.close()

    report = guarded(run)
    _print_run(report)
    if report.status == "failed":
        raise typer.Exit(1)


def _sweep_with_progress(service: sweeps.Sweeps, rule: RetentionRule) -> SweepRun:
    with _progress() as progress:
        task = progress.add_task(f"sweeping {rule.key}", total=None)

        def advance(run: SweepRun) -> None:
            totals = run.totals
            progress.update(
                task, total=totals["matched"], completed=totals["deleted"] + totals["masked"]
            )

        return sweeps.sweep(service, rule, actor="cli", on_chunk=advance)


@app.command()
def runs(
    rule: Annotated[str | None, typer.Option(help="Only this rule's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Recent sweep runs, newest first (counts only)."""
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def read() -> list[SweepRun]:
        runtime = build_runtime(settings)
        try:
            service = sweeps.Sweeps(runtime.platform, sweep_transactions(runtime.platform.uow))
            return list(sweeps.runs(service, rule, limit))
        finally:
            runtime.close()

    table = Table("run", "rule", "started", "status", "matched", "deleted", "masked", box=None)
    for r in guarded(read):
        kind = f"{r.status} (dry run)" if r.dry_run else r.status
        t = r.totals
        started = r.started_at.isoformat(timespec="seconds")
        row = (
            r.id[:8],
            r.rule,
            started,
            kind,
            str(t["matched"]),
            str(t["deleted"]),
            str(t["masked"]),
        )
        table.add_row(*row)
    out.print(table)


def _print_run(run: SweepRun) -> None:
    verb = "would sweep" if run.dry_run else run.status
    cutoff = run.cutoff.isoformat(timespec="seconds")
    out.print(f"{run.rule}: {verb}; rows older than {cutoff} (run {run.id})", highlight=False)
    table = Table("collection", "matched", "deleted", "masked", "note", box=None)
    for c in run.collections:
        note = f"not sweepable: {c.reason}" if c.reason else ""
        table.add_row(c.address, str(c.matched), str(c.deleted), str(c.masked), note)
    out.print(table)
    if run.failure:
        out.print(f"failed: {run.failure}", highlight=False)
    if run.dry_run:
        out.print("dry run: nothing was changed")
