"""`rightsflow drp business-entry` and `rightsflow drp agents`: our entry for the DRP service
directory (businesses.json), and the authorized agents we would accept requests from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

from rightsflow.bootstrap import utc_now
from rightsflow.cli.common import fail, settings_from
from rightsflow.domain.drp_status import BusinessProfile, business_entry
from rightsflow.services.drp_directory import AgentDirectory

app = typer.Typer(help="The Data Rights Protocol 1.0: our directory entry, the agents we know.")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
AgentsFileOpt = Annotated[
    Path | None, typer.Option("--agents-file", help="agents.json (default: settings).")
]
AgentsUrlOpt = Annotated[
    str | None, typer.Option("--agents-url", help="agents.json URL (default: settings).")
]


@app.command("business-entry")
def business_entry_cmd(config: ConfigOpt = None) -> None:
    """Print our entry in the service directory's businesses.json format (DRP 3.05.2)."""
    settings = settings_from(config)
    if settings.drp_business_id is None:
        fail("set drp_business_id (RIGHTSFLOW_DRP_BUSINESS_ID) first")
    profile = BusinessProfile(
        id=settings.drp_business_id,
        name=settings.drp_business_name or settings.drp_business_id,
        api_base=settings.api_base_url,
        logo=settings.drp_logo_url,
        web_url=settings.drp_web_url,
        privacy_policy_url=settings.drp_privacy_policy_url,
        technical_contact=settings.drp_technical_contact,
        business_contact=settings.drp_business_contact,
        supported_verifications=tuple(settings.drp_supported_verifications),
    )
    typer.echo(json.dumps(business_entry(profile), indent=4))


@app.command("agents")
def agents_cmd(
    config: ConfigOpt = None, agents_file: AgentsFileOpt = None, agents_url: AgentsUrlOpt = None
) -> None:
    """List the authorized agents in the directory (and any entry left out, and why)."""
    settings = settings_from(config)
    path = agents_file or (None if agents_url else settings.drp_agents_file)
    url = agents_url or settings.drp_agents_url
    from rightsflow.api.drp import agents_source  # noqa: PLC0415 - FastAPI: only here

    fetch = agents_source(path, url, allow_private_network=settings.drp_allow_private_network)
    if fetch is None:
        fail("no agents directory: set drp_agents_file or drp_agents_url, or pass one")
    directory = AgentDirectory(fetch, utc_now)
    agents, problems = directory.snapshot()
    if not agents and not problems:
        fail("the agents directory could not be read, or lists no agents")
    for agent in agents:
        key_id = hashlib.sha256(agent.verify_key).hexdigest()[:16]
        typer.echo(f"{agent.id}\t{agent.name}\tkey {key_id}\t{agent.web_url or '-'}")
    for problem in problems:
        typer.echo(f"skipped: {problem}", err=True)
