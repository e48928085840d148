"""What `serve` and `demo` print once everything is up."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # the runner imports the API and Temporal; only serve and demo need them
    from rightsflow.cli.demo_people import DemoPerson
    from rightsflow.cli.runner import Started

out = Console()


def print_started(
    started: Started, sample_email: str | None = None, console: DemoPerson | None = None
) -> None:
    token = "created" if started.token_created else "existing"
    out.print(f"[bold green]Rightsflow is running[/bold green] at {started.url}")
    out.print(f"  Privacy center: {started.url}/privacy/")
    out.print(f"  Console:        {started.url}/console/", end="")
    if console is not None:
        out.print(f" (sign in as {console.login}, password in {console.password_file})", end="")
    out.print()
    out.print(f"  GraphQL:        {started.url}/graphql")
    out.print(f"  API docs:       {started.url}/docs")
    if started.temporal_ui:
        out.print(f"  Temporal UI:    {started.temporal_ui}")
    out.print(f"  Temporal:       {started.temporal_address}")
    out.print(f"  Admin token:    {started.token_file} ({token}; keep it secret)")
    if started.resumed:
        out.print(f"  Resumed {started.resumed} unfinished request(s).")
    if sample_email:
        auth = f"Authorization: Bearer $(cat {shlex.quote(started.token_file)})"
        for kind in ("access", "erasure"):
            # Vouching for the identity skips the emailed code (see the README's lifecycle).
            body = json.dumps(
                {
                    "type": kind,
                    "identities": {"email": sample_email},
                    "regime": "gdpr",
                    "identity_verified": True,
                }
            )
            out.print(f"\n  # {kind} request:", highlight=False)
            out.print(
                f"  curl -s -X POST {started.url}/api/v1/privacy-requests "
                f'-H "{auth}" -H "Content-Type: application/json" -d {shlex.quote(body)}',
                highlight=False,
                soft_wrap=True,
            )
        out.print(
            f'\n  # then: curl -s -H "{auth}" {started.url}/api/v1/privacy-requests/<id>'
            "\n  # an erasure waits for an operator: curl -s -X POST -H "
            f'"{auth}" {started.url}/api/v1/privacy-requests/<id>/approve'
            f"\n  # mail (codes, notices) is written to {Path(started.token_file).parent}/outbox",
            highlight=False,
            soft_wrap=True,
        )
        choice = json.dumps({"choices": [{"purpose": "analytics", "granted": True}]})
        out.print(
            "\n  # consent: record a choice (Sec-GPC: 1 opts out of sale/sharing), then read it"
            f'\n  curl -s -X POST {started.url}/api/v1/consent/user_id:u-1 -H "{auth}" '
            f'-H "Content-Type: application/json" -H "Sec-GPC: 1" -d {shlex.quote(choice)}'
            f'\n  curl -s -H "{auth}" "{started.url}/api/v1/consent/user_id:u-1?regime=ccpa"',
            highlight=False,
            soft_wrap=True,
        )
    out.print("\nPress Ctrl-C to stop.")
