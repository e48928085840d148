"""GET /api/v1/audit and /api/v1/audit/export over real HTTP, on a real SQLite app database."""

from __future__ import annotations

import dataclasses
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.domain.audit_chain import StoredEvent, event_hash
from rightsflow.domain.records import AuditEvent
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.support.http_server import serve
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, all_ok, make_platform

URL = "/api/v1/audit"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RID, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The real app on a real database holding 7 events: 5 of RID, 2 of OTHER."""
    data_dir = tmp_path_factory.mktemp("audit-api")
    url = f"sqlite:///{data_dir / 'app.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with SqlUnitOfWork(engine) as uow:
        for i in range(5):
            uow.audit.append(AuditEvent(RID, f"step.{i % 2}", T0 + timedelta(hours=i)))
        for i in range(2):
            at = T0 + timedelta(hours=i, minutes=30)
            uow.audit.append(AuditEvent(OTHER, "package.downloaded", at, "operator:ann"))
        uow.commit()
    platform, _ = make_platform()
    deps = ApiDeps(
        platform=dataclasses.replace(platform, uow=SqlUnitOfWorkFactory(engine)),
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    app = create_app(Settings(data_dir=data_dir), deps)
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH) as http:
        yield http
    engine.dispose()


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def problem_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1
    return str(errors[0]["field"])


def test_both_routes_need_the_admin_token(client: httpx.Client) -> None:
    for path in (URL, f"{URL}/export"):
        response = client.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM


def test_events_come_oldest_first_with_their_chain(client: httpx.Client) -> None:
    response = client.get(URL)
    assert ids(response) == [1, 2, 3, 4, 5, 6, 7]
    items = response.json()["items"]
    assert response.json()["next_cursor"] is None
    assert items[0]["at"] == "2026-03-01T12:00:00.000000Z"
    assert items[0]["request_id"] == RID
    assert [i["prev_hash"] for i in items[1:]] == [i["hash"] for i in items[:-1]]


def test_a_cursor_walks_every_page_once(client: httpx.Client) -> None:
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(URL, params=params)
        seen += ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"request_id": OTHER}, [6, 7]),
        ({"actor": "operator:ann"}, [6, 7]),
        ({"action": "step.1"}, [2, 4]),
        ({"since": "2026-03-01T13:00:00Z", "until": "2026-03-01T14:00:00Z"}, [2, 7]),
        ({"since": "2026-03-01T15:00:00+02:00"}, [2, 3, 4, 5, 7]),  # 13:00 UTC
        ({"request_id": RID, "action": "step.0", "since": "2026-03-01T13:00:00Z"}, [3, 5]),
        ({"actor": "nobody"}, []),
    ],
)
def test_filters(client: httpx.Client, params: dict[str, str], expected: list[int]) -> None:
    assert ids(client.get(URL, params=params)) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-03-01T12:00:00"}, "until"),  # no timezone
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"request_id": "x" * 37}, "request_id"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    client: httpx.Client, params: dict[str, str], field: str
) -> None:
    assert problem_field(client.get(URL, params=params)) == field
    if field not in {"cursor", "limit"}:
        assert problem_field(client.get(f"{URL}/export", params=params)) == field


def test_export_streams_json_lines_anyone_can_check(client: httpx.Client) -> None:
    with client.stream("GET", f"{URL}/export", params={"request_id": RID}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = list(response.iter_lines())
    events = [json.loads(line) for line in lines]
    assert [e["id"] for e in events] == [1, 2, 3, 4, 5]
    assert events == client.get(URL, params={"request_id": RID}).json()["items"]
    for event in events:  # the hash is over exactly what the export shows
        at = datetime.fromisoformat(event["at"])
        stored = StoredEvent(**{k: v for k, v in event.items() if k not in ("at", "hash")}, at=at)
        assert event_hash(stored) == event["hash"]
