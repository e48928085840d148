"""The codec server over the real app, SQLite app database and vault (no Temporal needed):
encode and decode round trips, which key a payload gets, and the problems a caller meets."""

from __future__ import annotations

import base64
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.domain.requests import RequestType
from rightsflow.services.platform import Platform
from rightsflow.workflows.contracts import workflow_id
from tests.support.principals import role_tokens
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, TestClient, all_ok
from tests.unit.package_support import add_request

OPERATOR = {"Authorization": "Bearer privacy_operator"}
VALUE = '{"note": "Quillon Vantablack-Oduya"}'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(text: str = VALUE) -> dict[str, Any]:
    return {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(text.encode())}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Platform]]:
    _, mapdir = make_shop(tmp_path, customers=3)
    settings = Settings(data_dir=tmp_path / "data", datamap_dir=mapdir)
    runtime = build_runtime(settings)
    deps = ApiDeps(
        platform=runtime.platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, "owner-token"),
        readiness=all_ok,
        tokens=role_tokens(),
    )
    try:
        with TestClient(create_app(settings, deps), headers=OPERATOR) as client:
            yield client, runtime.platform
    finally:
        runtime.close()


def encode(client: TestClient, payloads: list[dict[str, Any]], wid: str | None = None) -> Any:
    headers = {"X-Workflow-Id": wid} if wid else {}
    return client.post("/codec/encode", json={"payloads": payloads}, headers=headers)


def decoded_audit(platform: Platform, request_id: str) -> list[tuple[str, dict[str, Any]]]:
    with platform.uow() as uow:
        events = uow.audit.for_request(request_id)
    return [(e.actor, e.detail) for e in events if e.action == "payloads.decoded"]


def test_a_request_workflows_payloads_round_trip_under_its_key(
    api: tuple[TestClient, Platform],
) -> None:
    client, platform = api
    rid = add_request(platform, RequestType.ACCESS)
    sealed = encode(client, [plain(), plain("2")], workflow_id(rid))
    assert sealed.status_code == 200, sealed.text
    assert sealed.headers["cache-control"] == "no-store"
    payloads = sealed.json()["payloads"]
    assert {base64.b64decode(p["metadata"]["encryption-key-id"]) for p in payloads} == {
        f"request:{rid}".encode()
    }
    assert VALUE.encode() not in base64.b64decode(payloads[0]["data"])
    opened = client.post(
        "/codec/decode", json={"payloads": payloads}, headers={"X-Workflow-Id": workflow_id(rid)}
    )
    assert opened.json()["payloads"] == [plain(), plain("2")]
    assert decoded_audit(platform, rid) == [
        ("client:privacy_operator", {"count": 2, "workflow_id": workflow_id(rid)})
    ]


def test_other_payloads_use_the_global_key_and_plain_ones_pass_through(
    api: tuple[TestClient, Platform],
) -> None:
    client, platform = api
    (sealed,) = encode(client, [plain()], "rightsflow-retention-purge-run-tq").json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"global"
    opened = client.post("/codec/decode", json={"payloads": [sealed, plain("x")]})
    assert opened.json()["payloads"] == [plain(), plain("x")]
    assert decoded_audit(platform, "") == [("client:privacy_operator", {"count": 1})]


def test_unknown_or_purged_requests_get_no_payloads_sealed(
    api: tuple[TestClient, Platform],
) -> None:
    client, platform = api
    unknown = str(uuid.uuid4())
    assert encode(client, [plain()], workflow_id(unknown)).status_code == 404
    rid = add_request(platform, RequestType.ACCESS)
    (sealed,) = encode(client, [plain()], workflow_id(rid)).json()["payloads"]
    platform.vault.destroy_key(rid)
    refused = encode(client, [plain()], workflow_id(rid))
    assert refused.status_code == 409
    assert "destroyed" in refused.json()["detail"]
    unreadable = client.post("/codec/decode", json={"payloads": [sealed]})
    assert unreadable.status_code == 422
    assert unreadable.json()["type"].endswith("/payload-unreadable")
    assert decoded_audit(platform, rid) == []


def test_malformed_payloads_are_422_problems(api: tuple[TestClient, Platform]) -> None:
    client, _ = api
    ours = b64(b"binary/rightsflow-encrypted")
    bad = [
        {"payloads": [{"metadata": {"encoding": "not base64!"}, "data": ""}]},
        {"payloads": [{"metadata": {"encoding": ours}, "data": b64(b"short")}]},
        {
            "payloads": [
                {
                    "metadata": {"encoding": ours, "encryption-key-id": b64(b"request:nope")},
                    "data": b64(bytes(64)),
                }
            ]
        },
        {"payloads": [plain()] * 1_001},
        {"nothing": []},
    ]
    for body in bad:
        answer = client.post("/codec/decode", json=body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == "application/problem+json"


def test_encoding_needs_the_scope_too(api: tuple[TestClient, Platform]) -> None:
    client, _ = api
    answer = client.post(
        "/codec/encode", json={"payloads": [plain()]}, headers={"Authorization": "Bearer reviewer"}
    )
    assert answer.status_code == 403
    assert answer.json()["required_scope"] == "payloads:decode"
