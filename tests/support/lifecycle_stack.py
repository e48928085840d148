"""A real platform (SQLite app database, shop data map, real vault) behind the real API, with
mail going to a real local SMTP server and a clock the test moves. Workflows are recorded,
not run: these tests are about the lifecycle's states, mail and audit."""

from __future__ import annotations

import dataclasses
import hmac
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.services.platform import Platform
from tests.support.smtp_server import Received, RunningSmtp, smtp_server
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, TestClient, all_ok

TOKEN = "lifecycle-admin-token"
URL = "/api/v1/privacy-requests"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday


@dataclass
class MovableClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Lifecycle:
    client: TestClient
    platform: Platform
    clock: MovableClock
    starter: RecordingStarter
    smtp: RunningSmtp

    def submit(self, **body: Any) -> dict[str, Any]:
        doc = {"identities": {"email": "customer0000003@shop.example"}, **body}
        response = self.client.post(URL, json=doc)
        assert response.status_code == 202, response.text
        created: dict[str, Any] = response.json()
        return created

    def mail_to(self, address: str) -> list[Received]:
        return [m for m in self.smtp.received if address in m.recipients]

    def code_for(self, request_id: str) -> str:
        """The code in the latest verification mail about this request."""
        for mail in reversed(self.smtp.received):
            text = str(mail.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
            found = re.search(r"\b(\d{6})\b", text)
            if found and "verification" in str(mail.message["Subject"]).lower():
                return found.group(1)
        raise AssertionError(f"no code mailed for {request_id}")

    def audit(self, request_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client.get(f"{URL}/{request_id}/audit").json()
        return events


@contextmanager
def lifecycle_stack(root: Path, **settings: Any) -> Iterator[Lifecycle]:
    _, mapdir = make_shop(root, customers=20)
    with smtp_server() as smtp:
        config = Settings(
            data_dir=root / "data",
            datamap_dir=mapdir,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            **settings,
        )
        runtime = build_runtime(config)
        clock = MovableClock()
        platform = dataclasses.replace(runtime.platform, clock=clock)
        starter = RecordingStarter()
        deps = ApiDeps(
            platform=platform,
            workflows=starter,
            token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
            readiness=all_ok,
        )
        app = create_app(config, deps)
        try:
            with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                yield Lifecycle(client, platform, clock, starter, smtp)
        finally:
            runtime.close()
