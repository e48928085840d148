"""`rightsflow requests find`: the requests a person made, found by the keyed hash of one of
their identities (services/identity_lookup.py). Prints ids, types, statuses and dates; never
the identity it was given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rightsflow.bootstrap import build_runtime
from rightsflow.cli.common import fail, guarded, settings_from
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.services import identity_lookup

app = typer.Typer(help="Privacy requests.", no_args_is_help=True)
out = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
MapOpt = Annotated[Path | None, typer.Option("--datamap", help="Data map directory.")]
EmailOpt = Annotated[str | None, typer.Option("--email", help="An email address.")]
PhoneOpt = Annotated[str | None, typer.Option("--phone", help="A phone number.")]
IdentityOpt = Annotated[
    str | None, typer.Option("--identity", help="KIND=VALUE for any other identity type.")
]


def _query(email: str | None, phone: str | None, identity: str | None) -> tuple[str, str]:
    given = [
        q
        for q in (
            ("email", email) if email is not None else None,
            ("phone_number", phone) if phone is not None else None,
            tuple(identity.split("=", 1)) if identity is not None and "=" in identity else None,
        )
        if q is not None
    ]
    if identity is not None and "=" not in identity:
        fail("--identity takes KIND=VALUE")
    if len(given) != 1:
        fail("give exactly one of --email, --phone, --identity")
    kind, value = given[0]
    return kind, value


@app.command()
def find(
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    identity: IdentityOpt = None,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The requests made with this identity, oldest first."""
    kind, value = _query(email, phone, identity)
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> list[PrivacyRequest]:
        runtime = build_runtime(settings)
        try:
            return identity_lookup.requests_for_identity(runtime.platform, kind, value)
        finally:
            runtime.close()

    found = guarded(run)
    for r in found:  # one line each, whole ids (a table would cut them on narrow terminals)
        received = r.received_at.isoformat(timespec="seconds")
        out.print(f"{r.id}  {r.type.value}  {r.regime}  {r.status.value}  {received}")
    out.print(f"{len(found)} request(s)")
