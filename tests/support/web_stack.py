"""The real app with its web pages over a real platform (SQLite app database, the shop data
map, mail to the outbox directory) and console sessions, with one person per role. Workflows
are recorded, not run: these tests are about the pages. Browser journeys that need requests to
run end to end use the `serve` command instead (tests/e2e/browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from rightsflow.api.app import create_app
from rightsflow.api.client_tokens import ClientTokens
from rightsflow.api.deps import ApiDeps
from rightsflow.api.sessions import ConsoleSessions
from rightsflow.bootstrap import Runtime, build_runtime, client_service
from rightsflow.cli.users_cmd import people_for
from rightsflow.config import Settings
from rightsflow.domain.access import Role
from rightsflow.services import users
from rightsflow.services.users import People
from rightsflow.storage.tokens import ensure_admin_token
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, TestClient, all_ok

PASSWORD = "correct horse battery staple 42"
BASE_URL = "http://testserver"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login_of(role: Role) -> str:
    return f"{role.value.replace('_', '-')}@ops.example"


@dataclass
class WebStack:
    app: FastAPI
    settings: Settings
    runtime: Runtime
    people: People
    starter: RecordingStarter
    admin_token: str

    def client(self) -> TestClient:
        """A browser without a session (cookies persist within this client)."""
        return TestClient(self.app, base_url=BASE_URL, follow_redirects=False)

    def signed_in(self, role: Role) -> TestClient:
        """A browser signed in to the console as the person with `role`."""
        browser = self.client()
        answer = browser.post(
            "/api/v1/session", json={"login": login_of(role), "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return browser

    @property
    def owner(self) -> dict[str, str]:
        """The bootstrap owner's bearer header, for setting things up through the REST API."""
        return {"Authorization": f"Bearer {self.admin_token}"}


def csrf_of(page_html: str) -> str:
    """The CSRF token of a console page's forms."""
    found = _CSRF.search(page_html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@contextmanager
def web_stack(root: Path, customers: int = 5, **settings: Any) -> Iterator[WebStack]:
    _, mapdir = make_shop(root, customers=customers)
    config = Settings(data_dir=root / "data", datamap_dir=mapdir, **settings)
    runtime = build_runtime(config)
    try:
        token, _ = ensure_admin_token(runtime.engine, config.admin_token_file)
        assert token is not None
        people = people_for(config, runtime.engine, runtime.platform.clock)
        for role in Role:
            users.create(people, login_of(role), role, PASSWORD, actor="test")
        starter = RecordingStarter()
        deps = ApiDeps(
            platform=runtime.platform,
            workflows=starter,
            token_is_valid=lambda given: given == token,
            readiness=all_ok,
            tokens=ClientTokens(client_service(config, runtime.engine)),
            sessions=ConsoleSessions(people, config.api_base_url),
        )
        yield WebStack(create_app(config, deps), config, runtime, people, starter, token)
    finally:
        runtime.close()
