"""An authorized agent's request, end to end: signed over HTTP with the Data Rights Protocol,
run by the real workflow on the Temporal dev server, and each state change called back to the
agent's own HTTP endpoint until it reads "fulfilled"."""

from __future__ import annotations

import hmac
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.services.requests import detail
from rightsflow.workflows.devserver import DevServer
from tests.support.drp_agent import DrpAgent, write_directory
from tests.support.drp_stack import AGENT_ID, BUSINESS_ID, callback_inbox
from tests.support.http_server import serve
from tests.support.stack import make_shop, rows, running_stack, stack_settings
from tests.unit.fakes import all_ok

pytestmark = pytest.mark.temporal
EMAIL = "customer0000004@shop.example"


async def test_an_agents_deletion_runs_and_the_agent_hears_it_was_fulfilled(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    directory = tmp_path / "agents.json"
    settings = stack_settings(
        tmp_path, mapdir, temporal_server.address, drp_business_id=BUSINESS_ID,
        drp_agents_file=directory, drp_allow_http_callbacks=True,
        drp_allow_private_network=True,  # the agent's callback inbox is on 127.0.0.1
    )  # fmt: skip
    async with running_stack(settings, temporal_client) as stack:
        deps = ApiDeps(
            stack.runtime.platform,
            stack.starter,
            token_is_valid=lambda token: hmac.compare_digest(token, "unused"),
            readiness=all_ok,
        )
        app = create_app(settings, deps)
        with (
            callback_inbox() as (inbox, callback),
            serve(app) as url,
            httpx.Client(base_url=url, timeout=10) as client,
        ):
            agent = DrpAgent(AGENT_ID, BUSINESS_ID, client)
            write_directory(directory, [agent.directory_entry()])
            assert agent.pair().status_code == 200
            answer = agent.exercise("deletion", email=EMAIL, status_callback=callback)
            assert answer.status_code == 200, answer.text
            rid = answer.json()["request_id"]
            assert await stack.wait(rid) == "completed"
            request = detail(stack.runtime.platform, rid).request
            assert request.source == f"agent:{AGENT_ID}"
            assert request.verified_at is not None  # the agent's verified email counts
            status = agent.status(rid).json()
    assert rows(db, "select count(*) from customers where email = ?", EMAIL) == [(0,)]
    assert status["status"] == "fulfilled"
    assert [c["status"] for c in inbox.received][-1] == "fulfilled"
    assert all(c["request_id"] == rid for c in inbox.received)
