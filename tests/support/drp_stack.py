"""The app with DRP on, over real HTTP and a real SQLite app database, plus a signing agent
listed in an agents.json file, and a real HTTP server standing in for the agent's callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import Engine

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.services.platform import Platform
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.uow import SqlUnitOfWorkFactory
from tests.support.drp_agent import DrpAgent, write_directory
from tests.support.http_server import serve
from tests.unit.fakes import RecordingStarter, all_ok, make_platform

BUSINESS_ID = "RIGHTSFLOW_TEST_BUSINESS"
AGENT_ID = "TEST_AGENT_001"
OTHER_ID = "OTHER_AGENT"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DrpStack:
    url: str
    platform: Platform
    engine: Engine
    starter: RecordingStarter
    agent: DrpAgent
    other: DrpAgent  # a second agent, also in the directory
    directory: Path


def sql_platform(tmp_path: Path) -> tuple[Platform, Engine]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    platform = replace(make_platform()[0], uow=SqlUnitOfWorkFactory(engine), clock=utc_now)
    return platform, engine


@contextmanager
def drp_stack(tmp_path: Path, **settings: Any) -> Iterator[DrpStack]:
    platform, engine = sql_platform(tmp_path)
    starter = RecordingStarter()
    directory = tmp_path / "agents.json"
    config = Settings(
        data_dir=tmp_path / "data",
        drp_business_id=BUSINESS_ID,
        drp_agents_file=directory,
        drp_allow_http_callbacks=True,
        **settings,
    )
    deps = ApiDeps(platform, starter, token_is_valid=lambda _token: False, readiness=all_ok)
    app = create_app(config, deps)
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            agent = DrpAgent(AGENT_ID, BUSINESS_ID, client)
            other = DrpAgent(OTHER_ID, BUSINESS_ID, client)
            write_directory(directory, [agent.directory_entry(), other.directory_entry()])
            yield DrpStack(url, platform, engine, starter, agent, other, directory)
    finally:
        engine.dispose()


@dataclass
class CallbackInbox:
    """What the agent's status callback endpoint received; answers `status_code`."""

    received: list[dict[str, Any]] = field(default_factory=list)
    status_code: int = 200

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/drp/status")
        async def status(request: Request) -> Response:
            self.received.append(await request.json())
            return Response(b"ignored by the business", status_code=self.status_code)

        return app


@contextmanager
def callback_inbox() -> Iterator[tuple[CallbackInbox, str]]:
    inbox = CallbackInbox()
    with serve(inbox.app()) as url:
        yield inbox, f"{url}/drp/status"
