"""The real app over a real platform (SQLite app database, shop data map) with the real access
wiring: the bootstrap owner token, OAuth2 clients and their signed access tokens. Workflows are
recorded, not run: these tests are about who may call what."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from rightsflow.api.app import create_app
from rightsflow.api.client_tokens import ClientTokens
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime, client_service
from rightsflow.config import Settings
from rightsflow.services.clients import ClientService
from rightsflow.storage.tokens import ensure_admin_token, token_is_valid
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, TestClient, all_ok


@dataclass
class AccessStack:
    http: TestClient  # sends no credentials unless a test passes some
    app: FastAPI
    settings: Settings
    runtime: Runtime
    clients: ClientService
    admin_token: str

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def owner(self) -> dict[str, str]:
        return self.bearer(self.admin_token)

    def token_for(self, client_id: str, secret: str, scope: str | None = None) -> str:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = self.http.post("/oauth/token", data=form, headers=basic(client_id, secret))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@contextmanager
def access_stack(root: Path, **settings: Any) -> Iterator[AccessStack]:
    _, mapdir = make_shop(root, customers=3)
    config = Settings(data_dir=root / "data", datamap_dir=mapdir, **settings)
    runtime = build_runtime(config)
    try:
        token, _ = ensure_admin_token(runtime.engine, config.admin_token_file)
        assert token is not None
        service = client_service(config, runtime.engine)
        deps = ApiDeps(
            platform=runtime.platform,
            workflows=RecordingStarter(),
            token_is_valid=lambda given: token_is_valid(runtime.engine, given),
            readiness=all_ok,
            tokens=ClientTokens(service),
        )
        app = create_app(config, deps)
        with TestClient(app) as http:
            yield AccessStack(http, app, config, runtime, service, token)
    finally:
        runtime.close()
