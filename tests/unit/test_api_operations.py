"""REST API: listing with cursors, cancel, retry, access package, receipt and audit trail."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.services import execution, package
from tests.unit.fakes import ApiHarness, api_harness

URL = "/api/v1/privacy-requests"
PROBLEM = "application/problem+json"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(tmp_path) as harness:
        yield harness


def _submit(api: ApiHarness, n: int = 1, **overrides: Any) -> str:
    body = {
        "type": "access",
        "identities": {"email": f"user{n}@example.com"},
        "regime": "gdpr",
        "identity_verified": True,
    }
    response = api.client.post(URL, json=body | overrides)
    assert response.status_code == 202, response.text
    request_id: str = response.json()["id"]
    return request_id


def _code(response: Any) -> str:
    assert response.headers["content-type"] == PROBLEM
    code: str = response.json()["type"].rsplit("/", 1)[-1]
    return code


def test_list_pages_newest_first_with_a_cursor(api: ApiHarness) -> None:
    ids = [_submit(api, n) for n in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        response = api.client.get(URL, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))
    assert {"id", "status", "type", "regime", "received_at", "due_at"} <= set(page["items"][0])
    assert len(api.client.get(URL).json()["items"]) == 7


def test_list_filters(api: ApiHarness) -> None:
    access = _submit(api, 1)
    erasure = _submit(api, 2, type="erasure", regime="ccpa")
    api.client.post(f"{URL}/{access}/cancel")

    def ids(**params: str) -> list[str]:
        response = api.client.get(URL, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids(type="erasure") == [erasure]
    assert ids(regime="gdpr") == [access]
    assert ids(status="canceled") == [access]
    assert ids(status="executing", type="erasure", regime="ccpa") == [erasure]
    assert ids(status="failed") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"type": "rectify"}, "type"),
        ({"regime": "mars"}, "regime"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"2025-01-01T00:00:00|x").decode()}, "cursor"),
        (
            {"cursor": base64.urlsafe_b64encode(b"2025-01-01T00:00:00|" + b"1" * 32).decode()},
            "cursor",
        ),
        ({"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode()}, "cursor"),
    ],
)
def test_bad_list_parameters_name_the_field(
    api: ApiHarness, params: dict[str, str], field: str
) -> None:
    response = api.client.get(URL, params=params)
    assert response.status_code == 422, response.text
    assert _code(response) in ("invalid-input", "validation-error")
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_cancel_then_cancel_again_conflicts(api: ApiHarness) -> None:
    request_id = _submit(api)
    first = api.client.post(f"{URL}/{request_id}/cancel")
    assert first.status_code == 200, first.text
    assert (first.json()["id"], first.json()["status"]) == (request_id, "canceled")
    assert api.starter.canceled == [request_id]
    again = api.client.post(f"{URL}/{request_id}/cancel")
    assert again.status_code == 409
    assert _code(again) == "conflict"
    assert "canceled" in again.json()["detail"]
    assert api.starter.canceled == [request_id]


def test_retry_only_failed_requests(api: ApiHarness) -> None:
    request_id = _submit(api)
    refused = api.client.post(f"{URL}/{request_id}/retry")
    assert refused.status_code == 409
    assert _code(refused) == "conflict"
    execution.begin(api.platform, request_id)
    execution.finish(api.platform, request_id, failure="shop:orders: connection refused")
    failed = api.client.get(f"{URL}/{request_id}").json()
    assert (failed["status"], failed["failure_reason"]) == (
        "failed",
        "shop:orders: connection refused",
    )

    retried = api.client.post(f"{URL}/{request_id}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "executing"
    assert api.starter.changes[-1] == request_id  # the waiting workflow is woken (or restarted)
    assert api.client.get(f"{URL}/{request_id}").json()["attempt"] == 2


def test_package_is_a_conflict_until_completed_then_a_zip(api: ApiHarness) -> None:
    request_id = _submit(api)
    early = api.client.get(f"{URL}/{request_id}/package")
    assert early.status_code == 409
    assert _code(early) == "conflict"
    execution.begin(api.platform, request_id)
    package.build(api.platform, request_id)
    execution.finish(api.platform, request_id)

    response = api.client.get(f"{URL}/{request_id}/package")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="rightsflow-{request_id}.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert {"data.json", "index.html"} <= set(archive.namelist())
        assert isinstance(json.loads(archive.read("data.json")), dict)


def test_package_of_an_erasure_request_is_a_conflict(api: ApiHarness) -> None:
    request_id = _submit(api, type="erasure")
    assert api.client.get(f"{URL}/{request_id}/package").status_code == 409


def test_receipt_of_an_erasure_request(api: ApiHarness) -> None:
    access = _submit(api, 1)
    assert api.client.get(f"{URL}/{access}/receipt").status_code == 409
    request_id = _submit(api, 2, type="erasure")
    execution.begin(api.platform, request_id)
    execution.finish(api.platform, request_id)

    response = api.client.get(f"{URL}/{request_id}/receipt")
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert {"request_id", "status", "policy", "verified", "lines", "not_reached"} <= set(receipt)
    assert {"format", "issued_at", "signature"} <= set(receipt)
    assert (receipt["request_id"], receipt["status"]) == (request_id, "completed")
    assert receipt["policy"] == "default_erasure"
    assert receipt["verified"] is False  # nothing was re-checked
    assert {line["system"] for line in receipt["lines"]} == {"shop"}
    assert {"collection", "action", "recheck", "rows_kept", "fields", "exemption"} <= set(
        receipt["lines"][0]
    )


def test_audit_trail(api: ApiHarness) -> None:
    request_id = _submit(api)
    api.client.post(f"{URL}/{request_id}/cancel")
    response = api.client.get(f"{URL}/{request_id}/audit")
    assert response.status_code == 200, response.text
    events = response.json()
    assert [e["action"] for e in events] == [
        "request.received",
        "request.verified",  # identity_verified: the API caller vouched for it
        "request.status_changed",  # approved by the auto-approve rule
        "request.status_changed",
    ]
    assert {"action", "at", "actor", "from_status", "to_status", "detail"} <= set(events[0])
    assert events[0]["detail"] == {"type": "access", "regime": "gdpr", "policy": "default_access"}
    assert (events[2]["actor"], events[2]["from_status"], events[2]["to_status"]) == (
        "system",
        "received",
        "executing",
    )
    assert (events[3]["actor"], events[3]["from_status"], events[3]["to_status"]) == (
        "bootstrap:owner",
        "executing",
        "canceled",
    )
    assert "user1@example.com" not in response.text
