"""REST API: authentication, submitting, validation errors and reading one request."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ERASURE
from rightsflow.services.ports import NodeResult
from tests.unit.fakes import ApiHarness, api_harness

URL = "/api/v1/privacy-requests"
EMAIL = "Ada.Lovelace@Example.com"
PROBLEM = "application/problem+json"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(tmp_path) as harness:
        yield harness


def _body(**overrides: Any) -> dict[str, Any]:
    return {"type": "access", "identities": {"email": EMAIL}, "regime": "gdpr", **overrides}


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://rightsflow.dev/problems/{code}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic dW5pdC10ZXN0LWFkbWluLXRva2Vu"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "not-bearer", "empty"],
)
def test_every_api_route_needs_the_token(api: ApiHarness, headers: dict[str, str]) -> None:
    for method, path in [("GET", URL), ("GET", f"{URL}/{uuid.uuid4()}"), ("POST", URL)]:
        response = api.client.request(method, path, headers=headers, content=b"{not json")
        body = _problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        assert body["instance"] == path
    assert api.store.state.requests == {}
    assert api.starter.started == []


def test_submit_accepts_and_starts_the_workflow(api: ApiHarness) -> None:
    response = api.client.post(URL, json=_body())
    assert response.status_code == 202, response.text
    body = response.json()
    assert {"id", "status", "type", "regime", "received_at", "due_at", "subject_token"} <= set(body)
    # GDPR asks for proof of identity: a code is mailed and the clock waits for it.
    assert (body["status"], body["type"], body["regime"]) == (
        "awaiting_verification",
        "access",
        "gdpr",
    )
    assert body["deadline_paused"] is True
    assert response.headers["location"] == f"{URL}/{body['id']}"
    assert api.starter.started == [(body["id"], 1)]
    assert EMAIL.lower().encode() not in api.store.state.sealed[body["id"]]


def test_same_idempotency_key_replays_the_first_request(api: ApiHarness) -> None:
    first = api.client.post(URL, json=_body(), headers={"Idempotency-Key": "k-1"})
    again = api.client.post(URL, json=_body(), headers={"Idempotency-Key": "k-1"})
    other = api.client.post(URL, json=_body(), headers={"Idempotency-Key": "k-2"})
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert other.json()["id"] != first.json()["id"]
    assert len(api.starter.started) == 2


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (_body(identities={"shoe_size": EMAIL}), "identities.shoe_size", "invalid-input"),
        (_body(identities={"email": "ada.lovelace@"}), "identities.email", "invalid-input"),
        (_body(identities={}), "identities", "invalid-input"),
        (_body(type="rectify"), "type", "invalid-input"),
        (_body(regime="mars"), "regime", "invalid-input"),
        (_body(policy="default_erasure"), "policy", "invalid-input"),
        (_body(identities={"email": 42}), "identities.email", "validation-error"),
        (_body(identities=[EMAIL]), "identities", "validation-error"),
        (_body(extra=EMAIL), "extra", "validation-error"),
        ({"identities": {"email": EMAIL}, "regime": "gdpr"}, "type", "validation-error"),
        (_body(identities={EMAIL: EMAIL}), "identities", "invalid-input"),
    ],
)
def test_invalid_submissions_name_the_field_but_never_the_value(
    api: ApiHarness, body: dict[str, Any], field: str, code: str
) -> None:
    response = api.client.post(URL, json=body)
    problem = _problem(response, 422, code)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert all(e["message"] for e in problem["errors"])
    assert problem["instance"] == URL
    text = response.text.lower()
    assert EMAIL.lower() not in text
    assert "ada.lovelace" not in text
    assert all(set(e) == {"field", "message"} for e in problem["errors"])
    assert api.starter.started == []


def test_malformed_json_and_long_idempotency_key_are_validation_errors(api: ApiHarness) -> None:
    response = api.client.post(URL, content=b'{"identities": {"email": "ada@x.io"', headers={})
    assert _problem(response, 422, "validation-error")["errors"]
    assert "ada@x.io" not in response.text
    response = api.client.post(URL, json=_body(), headers={"Idempotency-Key": "k" * 201})
    errors = _problem(response, 422, "validation-error")["errors"]
    assert [e["field"] for e in errors] == ["Idempotency-Key"]


@pytest.mark.parametrize("suffix", ["", "/audit", "/receipt", "/package"])
@pytest.mark.parametrize("request_id", [str(uuid.uuid4()), "not-a-uuid", "ada@example.com"])
def test_unknown_and_malformed_ids_are_404(api: ApiHarness, request_id: str, suffix: str) -> None:
    response = api.client.get(f"{URL}/{request_id}{suffix}")
    _problem(response, 404, "not-found")
    for action in ("cancel", "retry"):
        _problem(api.client.post(f"{URL}/{request_id}/{action}"), 404, "not-found")


def test_detail_before_planning(api: ApiHarness) -> None:
    request_id = api.client.post(URL, json=_body()).json()["id"]
    response = api.client.get(f"{URL}/{request_id.upper()}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == request_id
    assert body["policy"] == "default_access"
    assert (body["attempt"], body["completed_at"], body["failure_reason"]) == (1, None, None)
    assert body["progress"] == {"planned": False, "systems": {}, "unreachable": [], "asked": []}
    assert "identit" not in response.text
    assert EMAIL.lower() not in response.text.lower()


def test_detail_shows_progress_per_system_and_collection(api: ApiHarness) -> None:
    request_id = api.client.post(URL, json=_body(type="erasure")).json()["id"]
    planned = plan_request(api.platform.datamap, DEFAULT_ERASURE, ["email"])
    plan = json.loads(json.dumps(planned.to_dict()))  # as stored: JSON
    plan["skipped"].append(
        {"address": "crm:notes", "reason": "no identity reaches it", "holds_targeted_data": True}
    )
    plan["skipped"].append({"address": "x:y", "reason": "untargeted", "holds_targeted_data": False})
    api.store.state.plans[request_id] = plan
    customers = "shop:customers"
    for result in (
        NodeResult(request_id, customers, "retrieve", rows_found=1),
        NodeResult(request_id, customers, "erase", rows_found=1, rows_masked=1),
        NodeResult(request_id, customers, "recheck", status="failed", remaining=1, detail="1 row"),
    ):
        api.store.state.results[(request_id, result.address, result.phase)] = result

    body = api.client.get(f"{URL}/{request_id}").json()
    progress = body["progress"]
    assert progress["planned"] is True
    assert set(progress["systems"]) == {"shop"}
    by_collection = {c["collection"]: c for c in progress["systems"]["shop"]}
    assert len(by_collection) == len(plan["nodes"])
    shown = by_collection[customers]
    assert shown["action"] == "mask"
    assert (shown["retrieve"]["status"], shown["retrieve"]["rows_found"]) == ("done", 1)
    assert (shown["erase"]["status"], shown["erase"]["rows_masked"]) == ("done", 1)
    assert shown["recheck"] | {"updated_at": None} == {
        "status": "failed",
        "rows_found": 0,
        "rows_masked": 0,
        "rows_deleted": 0,
        "remaining": 1,
        "detail": "1 row",
        "updated_at": None,
    }
    untouched = [c for c in by_collection.values() if c["collection"] != customers]
    assert all(c["retrieve"]["status"] == "pending" for c in untouched)
    assert all(c["erase"] is None for c in untouched if c["action"] not in ("mask", "delete"))
    assert progress["unreachable"] == [
        {"collection": "crm:notes", "reason": "no identity reaches it"}
    ]


def test_search_finds_a_persons_requests_by_identity(api: ApiHarness) -> None:
    mine = api.client.post(URL, json=_body()).json()["id"]
    api.client.post(URL, json=_body(identities={"email": "someone-else@example.com"}))
    search = f"{URL}/search"
    found = api.client.post(search, json={"kind": "email", "value": f"  {EMAIL.upper()} "})
    assert found.status_code == 200, found.text
    assert [r["id"] for r in found.json()["items"]] == [mine]
    none = api.client.post(search, json={"kind": "email", "value": "nobody@example.com"})
    assert none.json()["items"] == []
    _problem(api.client.post(search, json={"kind": "email", "value": ""}), 422, "validation-error")
    # The value is never stored: only its keyed hash is.
    assert EMAIL not in repr(api.store.state.identity_hashes)
