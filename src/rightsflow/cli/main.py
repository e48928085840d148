"""`rightsflow` command line. Each command is a composition root: settings in, work done."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from rightsflow.cli import (
    audit_cmd,
    bulk_cmd,
    clients_cmd,
    connectors_cmd,
    consent_cmd,
    datamap_cmd,
    demo_cmd,
    drp_cmd,
    keys_cmd,
    receipt_cmd,
    report_cmd,
    requests_cmd,
    retention_cmd,
    users_cmd,
)
from rightsflow.cli.banner import print_started
from rightsflow.cli.common import fail, guarded, settings_from

app = typer.Typer(
    name="rightsflow",
    help="Privacy requests as durable, verified workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(datamap_cmd.app, name="datamap")
app.add_typer(receipt_cmd.app, name="receipt")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(drp_cmd.app, name="drp")
app.add_typer(report_cmd.app, name="report")
app.add_typer(retention_cmd.app, name="retention")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(requests_cmd.app, name="requests")
app.add_typer(users_cmd.app, name="users")
app.add_typer(bulk_cmd.app, name="bulk")
app.add_typer(consent_cmd.app, name="consent")
app.command("plan")(datamap_cmd.plan)
app.command("demo")(demo_cmd.demo)
app.add_typer(connectors_cmd.app, name="connectors")
app.command("check")(connectors_cmd.check)
app.add_typer(clients_cmd.app, name="clients")
app.add_typer(clients_cmd.admin_token_app, name="admin-token")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
MapOpt = Annotated[Path | None, typer.Option("--datamap", help="Data map directory.")]
HostOpt = Annotated[str | None, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on.")]
TemporalOpt = Annotated[str | None, typer.Option(help="Temporal host:port; default: dev server.")]


@app.command()
def serve(
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    temporal_address: TemporalOpt = None,
    config: ConfigOpt = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Run no worker here: `rightsflow worker`s do.")
    ] = False,
) -> None:
    """Run the API, a worker and (unless an address is set) Temporal's dev server."""
    # Imported here: the API and Temporal cost ~0.7 s that other commands (and --help) skip.
    from rightsflow.cli.runner import run_platform  # noqa: PLC0415

    settings = settings_from(
        config,
        data_dir=data_dir,
        datamap_dir=datamap,
        host=host,
        port=port,
        temporal_address=temporal_address,
    )
    if no_worker and not settings.temporal_address:
        fail("--no-worker needs --temporal-address (the workers must reach the same Temporal)")
    guarded(lambda: asyncio.run(run_platform(settings, print_started, worker=not no_worker)))


@app.command()
def worker(
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    temporal_address: TemporalOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run only a worker against a Temporal cluster; start as many as the load needs."""
    from rightsflow.cli.runner import run_worker  # noqa: PLC0415 - as in serve

    settings = settings_from(
        config, data_dir=data_dir, datamap_dir=datamap, temporal_address=temporal_address
    )
    guarded(lambda: asyncio.run(run_worker(settings)))


def run() -> None:
    app(prog_name="rightsflow")


if __name__ == "__main__":
    run()
