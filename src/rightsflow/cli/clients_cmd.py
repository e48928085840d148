"""`rightsflow clients ...` (OAuth2 clients) and `rightsflow admin-token rotate`.

Whoever runs these can read the data dir, so they act as an owner; the audit trail names them
`bootstrap:cli`. A client secret is printed once, when it is made; the admin token never is
(it is written to the token file, mode 0600).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.bootstrap import client_service
from rightsflow.cli.app_database import app_engine
from rightsflow.cli.common import guarded, settings_from
from rightsflow.domain.access import ROLE_SCOPES, Principal, PrincipalKind, Role
from rightsflow.domain.clients import OAuthClient
from rightsflow.services.clients import ClientService
from rightsflow.storage.tokens import rotate_admin_token

CLI_OWNER = Principal(PrincipalKind.BOOTSTRAP, "cli", ROLE_SCOPES[Role.OWNER], Role.OWNER)
T = TypeVar("T")

app = typer.Typer(help="OAuth2 clients: services that call the API.", no_args_is_help=True)
admin_token_app = typer.Typer(help="The bootstrap owner token.", no_args_is_help=True)
out = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
_DURATION = re.compile(r"^\s*(\d{1,7})\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90`, `90s`, `30m`, `1h`, `7d`."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise typer.BadParameter("a duration such as 0, 90s, 30m, 1h or 7d")
    return timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])


def _with_clients(
    config: Path | None, data_dir: Path | None, use: Callable[[ClientService], T]
) -> T:
    settings = settings_from(config, data_dir=data_dir)

    def run() -> T:
        with app_engine(settings) as engine:
            return use(client_service(settings, engine))

    return guarded(run)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the client is, e.g. the billing service.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated, e.g. requests:read,tasks:read")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a client; prints its client_id and its secret (shown this once)."""
    names = [s for s in scopes.split(",") if s.strip()]
    made = _with_clients(config, data_dir, lambda c: c.create(name, names, CLI_OWNER))
    out.print(f"client_id:     {made.client.id}", highlight=False)
    out.print(f"client_secret: {made.secret}", highlight=False)
    out.print(f"scopes:        {' '.join(_scopes(made.client))}", highlight=False)
    out.print("The secret is shown only now: store it in the service's secret store.")


@app.command("list")
def list_clients(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Clients, revoked ones included (never secrets)."""
    clients = _with_clients(config, data_dir, lambda c: c.list())
    table = Table("client_id", "name", "scopes", "secrets", "status", box=None)
    for client in clients:
        status = "active" if client.active else f"revoked {client.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(
            client.id, client.name, " ".join(_scopes(client)), str(len(client.secrets)), status
        )
    out.print(table if clients else "no clients")


@app.command()
def rotate(
    client_id: Annotated[str, typer.Argument(help="The client_id.")],
    grace: Annotated[
        str, typer.Option(help="How long the current secrets keep working: 0, 30m, 1h, 7d.")
    ] = "1h",
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A new secret for the client (printed once); the old ones expire after --grace."""
    period = parse_duration(grace)
    made = _with_clients(config, data_dir, lambda c: c.rotate_secret(client_id, period, CLI_OWNER))
    out.print(f"client_secret: {made.secret}", highlight=False)
    out.print(f"The previous secret(s) stop working in {period}.", highlight=False)


@app.command()
def revoke(
    client_id: Annotated[str, typer.Argument(help="The client_id.")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke a client: its secrets and access tokens stop working."""
    revoked = _with_clients(config, data_dir, lambda c: c.revoke(client_id, CLI_OWNER))
    out.print("revoked" if revoked else "already revoked")


@admin_token_app.command("rotate")
def rotate_admin(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Write a new admin token to the token file and revoke the old one (no restart needed)."""
    settings = settings_from(config, data_dir=data_dir)

    def run() -> None:
        with app_engine(settings) as engine:
            rotate_admin_token(engine, settings.admin_token_file, CLI_OWNER.actor)

    guarded(run)
    out.print(f"new admin token written to {settings.admin_token_file}", highlight=False)


def _scopes(client: OAuthClient) -> list[str]:
    return sorted(s.value for s in client.scopes)
