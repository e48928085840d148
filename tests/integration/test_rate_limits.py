"""Rate limits over real HTTP (uvicorn): per client IP on public routes, per request on code
entry, per principal on authenticated routes, shared through a real Redis, and X-Forwarded-For
believed only from a trusted proxy."""

from __future__ import annotations

import hmac
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.domain.access import Principal, PrincipalKind, Scope
from tests.support.redis_server import RedisServer, start_redis
from tests.unit.fakes import RecordingStarter, all_ok, make_platform

OWNER = "owner-token-for-rate-limit-tests"
SUBJECT = "/api/v1/subject/requests/rid-1"


class ClientTokens:
    """Access tokens `client-<id>` stand for OAuth2 clients with every scope."""

    async def principal_for_token(self, token: str) -> Principal | None:
        if not token.startswith("client-"):
            return None
        return Principal(PrincipalKind.CLIENT, token.removeprefix("client-"), frozenset(Scope))


def build_app(tmp_path: Path, **settings: Any) -> Any:
    platform, _ = make_platform()
    deps = ApiDeps(
        platform,
        RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, OWNER),
        readiness=all_ok,
        tokens=ClientTokens(),
    )
    return create_app(Settings(data_dir=tmp_path / "data", **settings), deps)


@contextmanager
def served(tmp_path: Path, **settings: Any) -> Iterator[httpx.Client]:
    """The app on 127.0.0.1 without uvicorn's own proxy-header rewriting (as `serve` runs it):
    only the app's trusted-proxy setting decides what X-Forwarded-For counts for."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    app = build_app(tmp_path, **settings)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", ws="none", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped"
        time.sleep(0.01)
    port = sock.getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def test_public_routes_are_limited_per_client_ip(tmp_path: Path) -> None:
    with served(tmp_path, rate_limit_public="3/minute") as http:
        answers = [http.get(SUBJECT) for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [401, 401, 401]  # no subject token
        assert [a.headers["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
        refused = answers[3]
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Limit"] == "3"
        assert refused.headers["X-Request-ID"]
        assert http.get("/healthz").status_code == 200  # not a limited route


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path: Path) -> None:
    with served(tmp_path, rate_limit_public="2/minute") as http:
        codes = [
            http.get(SUBJECT, headers=from_ip(f"198.51.100.{i}")).status_code for i in range(3)
        ]
        assert codes == [401, 401, 429]  # made-up addresses do not buy a new budget
    trusted = {"rate_limit_public": "2/minute", "rate_limit_trusted_proxies": ["127.0.0.1/32"]}
    with served(tmp_path, **trusted) as http:
        one = [http.get(SUBJECT, headers=from_ip("198.51.100.1")).status_code for _ in range(3)]
        assert one == [401, 401, 429]
        assert http.get(SUBJECT, headers=from_ip("198.51.100.2")).status_code == 401
        # The right-most untrusted hop counts: an entry the client wrote itself does not.
        spoofed = from_ip("203.0.113.9, 198.51.100.1")
        assert http.get(SUBJECT, headers=spoofed).status_code == 429


def test_code_entry_is_limited_per_ip_and_per_request(tmp_path: Path) -> None:
    settings = {"rate_limit_code": "3/minute", "rate_limit_trusted_proxies": ["127.0.0.1"]}
    with served(tmp_path, **settings) as http:

        def enter(request_id: str, ip: str) -> int:
            url = f"/api/v1/subject/requests/{request_id}/code"
            return http.post(url, json={"code": "000000"}, headers=from_ip(ip)).status_code

        assert [enter("rid-a", "198.51.100.1") for _ in range(4)] == [401, 401, 401, 429]
        # Another address, the same request: that request's budget is spent.
        assert enter("rid-a", "198.51.100.2") == 429
        # The first address on another request: its own budget is spent too.
        assert enter("rid-b", "198.51.100.1") == 429
        assert enter("rid-b", "198.51.100.2") == 401


def test_login_and_drp_routes_have_their_own_budgets(tmp_path: Path) -> None:
    budgets = {"rate_limit_login": "2/minute", "rate_limit_drp": "1/minute"}
    with served(tmp_path, **budgets) as http:
        logins = [http.post("/api/v1/session", json={}).status_code for _ in range(3)]
        assert logins[-1] == 429
        assert http.post("/oauth/token", data={}).status_code != 429  # its own key, same budget
        assert http.get("/v1/data-rights-request/x").status_code != 429
        assert http.get("/v1/data-rights-request/x").status_code == 429


def test_authenticated_routes_are_limited_per_principal(tmp_path: Path) -> None:
    with served(tmp_path, rate_limit_principal="3/minute") as http:

        def listing(token: str) -> httpx.Response:
            return http.get(
                "/api/v1/privacy-requests", headers={"Authorization": f"Bearer {token}"}
            )

        owner = [listing(OWNER) for _ in range(4)]
        assert [r.status_code for r in owner] == [200, 200, 200, 429]
        assert [r.headers["RateLimit-Remaining"] for r in owner[:3]] == ["2", "1", "0"]
        assert owner[3].json()["status"] == 429
        assert "Retry-After" in owner[3].headers
        # Another principal from the same address has its own budget.
        assert listing("client-reports").status_code == 200
        # Bad credentials are refused before any budget is spent.
        assert listing("nobody").status_code == 401


def test_disabled_limits_never_refuse(tmp_path: Path) -> None:
    with served(tmp_path, rate_limits_enabled=False, rate_limit_public="1/minute") as http:
        answers = [http.get(SUBJECT) for _ in range(3)]
        assert [a.status_code for a in answers] == [401, 401, 401]
        assert "RateLimit-Limit" not in answers[0].headers


def test_the_openapi_document_names_429(tmp_path: Path) -> None:
    with served(tmp_path) as http:
        paths = http.get("/openapi.json").json()["paths"]
    assert "429" in paths["/api/v1/privacy-requests"]["get"]["responses"]
    assert "429" in paths["/api/v1/subject/requests/{request_id}/code"]["post"]["responses"]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with start_redis() as server:
        yield server


@pytest.mark.redis
def test_redis_counters_are_shared_by_every_api_process(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    shared = {"rate_limit_public": "3/minute", "rate_limit_storage_url": redis_server.url(3)}
    with served(tmp_path / "a", **shared) as one, served(tmp_path / "b", **shared) as two:
        codes = [one.get(SUBJECT).status_code, two.get(SUBJECT).status_code]
        codes += [one.get(SUBJECT).status_code, two.get(SUBJECT).status_code]
    assert codes == [401, 401, 401, 429]
    assert redis_server.client(3).keys("LIMITS*")  # the counters are in Redis


def test_an_unreachable_counter_store_lets_requests_through(tmp_path: Path) -> None:
    dead = {"rate_limit_public": "1/minute", "rate_limit_storage_url": "redis://127.0.0.1:9/0"}
    with served(tmp_path, **dead) as http:
        assert [http.get(SUBJECT).status_code for _ in range(3)] == [401, 401, 401]
