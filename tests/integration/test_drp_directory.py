"""The agents.json directory from a file and over real HTTP: cached, reloaded after its refresh
time, reloaded early for an unknown agent at most once a minute, the last good copy kept when
the source fails; and the `rightsflow drp` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Response
from typer.testing import CliRunner

from rightsflow.cli.main import app as cli
from rightsflow.connectors.ssrf import guarded_transport
from rightsflow.services.drp_directory import AgentDirectory
from rightsflow.storage.drp_directory import file_source, url_source
from tests.support.drp_agent import DrpAgent
from tests.support.http_server import serve


@dataclass
class Clock:
    now: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class DirectoryServer:
    entries: list[dict[str, str]] = field(default_factory=list)
    status_code: int = 200
    hits: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/agents.json")
        def agents() -> Response:
            self.hits += 1
            return Response(json.dumps(self.entries), self.status_code, media_type="text/json")

        return app


def agent_entry(agent_id: str) -> dict[str, str]:
    return DrpAgent(agent_id, "BUSINESS", client=None).directory_entry()  # type: ignore[arg-type]


def local() -> httpx.HTTPTransport:
    """The directory servers listen on 127.0.0.1: the SSRF guard needs the explicit allow."""
    return guarded_transport(allow_private=True)


@pytest.fixture
def served() -> Iterator[tuple[DirectoryServer, str]]:
    server = DirectoryServer([agent_entry("AGENT_A")])
    with serve(server.app()) as url:
        yield server, f"{url}/agents.json"


def test_over_http_unknown_agents_reload_at_most_once_a_minute(
    served: tuple[DirectoryServer, str],
) -> None:
    server, url = served
    clock = Clock()
    directory = AgentDirectory(
        url_source(url, transport=local()), clock, refresh_s=3600, unknown_retry_s=60
    )
    agent = directory.agent("AGENT_A")
    assert agent is not None
    assert len(agent.verify_key) == 32
    server.entries.append(agent_entry("AGENT_B"))
    for made_up in ("AGENT_B", "NOBODY_1", "NOBODY_2"):
        directory.agent(made_up)  # all within the first minute: no fetch
    assert server.hits == 1
    clock.advance(61)
    assert directory.agent("AGENT_B") is not None  # one early reload finds the new agent
    assert directory.agent("NOBODY_3") is None
    assert server.hits == 2
    clock.advance(3600)
    directory.agent("AGENT_A")  # the regular refresh
    assert server.hits == 3


def test_a_failing_source_keeps_the_last_good_copy(served: tuple[DirectoryServer, str]) -> None:
    server, url = served
    clock = Clock()
    directory = AgentDirectory(url_source(url, transport=local()), clock, refresh_s=10)
    assert directory.agent("AGENT_A") is not None
    server.status_code = 503
    clock.advance(11)
    assert directory.agent("AGENT_A") is not None
    assert server.hits == 2
    never = AgentDirectory(url_source("http://127.0.0.1:9/agents.json", transport=local()), clock)
    assert never.agent("AGENT_A") is None  # unreachable from the start: nobody is known


def test_bad_entries_are_left_out_and_named(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    good = agent_entry("GOOD_AGENT")
    path.write_text(
        json.dumps([good, {"id": "NO_KEY"}, {**good, "verify_key": "c2hvcnQ="}, good, "x"])
    )
    agents, problems = AgentDirectory(file_source(path), Clock()).snapshot()
    assert [a.id for a in agents] == ["GOOD_AGENT"]
    assert problems == [
        "agent #1: verify_key is missing",
        "agent #2: verify_key is not a 32-byte Ed25519 key",
        "agent #3: id GOOD_AGENT is listed twice; the first is kept",
        "agent #4: an agent entry must be an object",
    ]


def test_cli_lists_agents_and_prints_our_business_entry(
    tmp_path: Path, served: tuple[DirectoryServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served
    runner = CliRunner()
    monkeypatch.setenv("RIGHTSFLOW_DRP_ALLOW_PRIVATE_NETWORK", "true")  # served on 127.0.0.1
    listed = runner.invoke(cli, ["drp", "agents", "--agents-url", url])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.startswith("AGENT_A\tAGENT_A agent\tkey ")
    config = tmp_path / "rightsflow.toml"
    config.write_text(
        'public_url = "https://privacy.shop.example"\n'
        'drp_business_id = "SHOP_EXAMPLE"\n'
        'drp_business_name = "Shop Example"\n'
        'drp_web_url = "https://shop.example"\n'
        'drp_technical_contact = "dpo@shop.example"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
    )
    monkeypatch.delenv("RIGHTSFLOW_DRP_BUSINESS_ID", raising=False)
    printed = runner.invoke(cli, ["drp", "business-entry", "--config", str(config)])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == {
        "id": "SHOP_EXAMPLE",
        "name": "Shop Example",
        "logo": None,
        "api_base": "https://privacy.shop.example",
        "supported_actions": ["access", "deletion", "sale:opt_out"],
        "supported_verifications": ["email"],
        "web_url": "https://shop.example",
        "technical_contact": "dpo@shop.example",
    }
    missing = runner.invoke(cli, ["drp", "business-entry", "--config", str(tmp_path / "x.toml")])
    assert missing.exit_code == 1
