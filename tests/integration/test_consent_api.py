"""The consent ledger over HTTP on a real runtime (SQLite): writes and read-your-writes, 422s,
409 under erasure, GPC on preference calls and on request intake, history, links, and an
opt-out request recorded in the ledger and propagated."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.domain.consent import SubjectKind, SubjectRef
from rightsflow.services import consent, consent_catalog, consent_requests, requests
from rightsflow.services.platform import Platform
from tests.support.http_server import serve
from tests.support.stack import make_shop
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, all_ok

BASE = "/api/v1/consent"
SECRET = "u-7f3a9"  # a subject value that must never come back in an answer


class RecordingPropagator:
    def __init__(self) -> None:
        self.records: list[str] = []

    async def propagate(self, record_id: str) -> None:
        self.records.append(record_id)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    _db, mapdir = make_shop(tmp_path, customers=3)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", datamap_dir=mapdir))
    yield runtime
    runtime.close()


@pytest.fixture
def propagator() -> RecordingPropagator:
    return RecordingPropagator()


@pytest.fixture
def platform(runtime: Runtime, propagator: RecordingPropagator) -> Platform:
    return dataclasses.replace(runtime.platform, consent_propagator=propagator)


@pytest.fixture
def client(runtime: Runtime, platform: Platform) -> Iterator[httpx.Client]:
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    app = create_app(Settings(data_dir=runtime.settings.data_dir), deps)
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH) as client:
        yield client


def choices(**granted: bool) -> list[dict[str, object]]:
    return [{"purpose": k, "granted": v} for k, v in granted.items()]


def echoed(answer: httpx.Response) -> bool:
    """Whether the subject value is anywhere in an answer (a problem's `instance` names the
    route's template, /api/v1/consent/{subject}, not the path that carries the subject)."""
    return SECRET in answer.text


def test_a_write_is_read_back_at_once(client: httpx.Client) -> None:
    answer = client.post(
        f"{BASE}/user_id:{SECRET}",
        json={"choices": choices(analytics=True, advertising=True), "source": "banner"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["effective"] == {"analytics": True, "advertising": True}
    assert body["withdrawn"] == []
    assert SECRET not in answer.text
    state = client.get(f"{BASE}/{SECRET}").json()["purposes"]  # gdpr: off by default
    assert (state["analytics"]["granted"], state["analytics"]["source"]) == (True, "banner")
    assert state["personalisation"]["default"] is True
    refused = client.post(f"{BASE}/{SECRET}", json={"choices": choices(analytics=False)})
    assert refused.json()["withdrawn"] == ["analytics"]
    assert client.get(f"{BASE}/{SECRET}").json()["purposes"]["analytics"]["granted"] is False


def test_bad_input_is_a_422_naming_it(client: httpx.Client, platform: Platform) -> None:
    unknown = client.post(f"{BASE}/{SECRET}", json={"choices": choices(telepathy=True)})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "choices.0.purpose", "message": "unknown purpose: telepathy"}
    ]
    assert not echoed(unknown)
    essential = client.post(f"{BASE}/{SECRET}", json={"choices": choices(essential=False)})
    assert essential.status_code == 422
    notice = {"key": "banner", "version": 3}
    missing = client.post(f"{BASE}/{SECRET}", json={"choices": [], "notice": notice})
    assert missing.status_code == 422
    assert "banner" in missing.text
    consent_catalog.publish_notice(platform, "banner", "We ask.", ["analytics"], actor="t")
    ok = {"key": "banner", "version": 1}
    off_notice = client.post(
        f"{BASE}/{SECRET}", json={"choices": choices(advertising=True), "notice": ok}
    )
    assert off_notice.status_code == 422
    assert "not on notice" in off_notice.text
    shown = client.post(f"{BASE}/{SECRET}", json={"choices": choices(analytics=True), "notice": ok})
    assert shown.status_code == 201
    regime = client.post(f"{BASE}/{SECRET}", json={"choices": [], "regime": "mars"})
    assert regime.status_code == 422


def test_a_subject_under_erasure_is_refused(client: httpx.Client, platform: Platform) -> None:
    requests.submit(platform, requests.NewRequest("erasure", {"user_id": SECRET}, "gdpr"))
    answer = client.post(f"{BASE}/user_id:{SECRET}", json={"choices": choices(analytics=True)})
    assert answer.status_code == 409
    assert "erasure" in answer.json()["detail"]
    assert not echoed(answer)
    other = client.post(f"{BASE}/user_id:someone-else", json={"choices": choices(analytics=True)})
    assert other.status_code == 201


def test_gpc_header_on_a_preference_call(
    client: httpx.Client, propagator: RecordingPropagator
) -> None:
    answer = client.post(
        f"{BASE}/device_id:{SECRET}",
        json={"choices": choices(sale_sharing=True), "regime": "ccpa"},
        headers={"Sec-GPC": "1"},
    )
    assert answer.status_code == 201, answer.text
    entries = {e["purpose"]: e for e in answer.json()["entries"]}
    assert (entries["sale_sharing"]["effective"], entries["sale_sharing"]["resolution"]) == (
        False,
        "gpc_overrides_choice",
    )
    assert (entries["advertising"]["effective"], entries["advertising"]["source"]) == (False, "gpc")
    assert answer.json()["withdrawn"] == ["advertising", "sale_sharing"]
    assert propagator.records == [answer.json()["id"]]
    read = client.get(f"{BASE}/device_id:{SECRET}", params={"regime": "ccpa"}).json()
    assert read["gpc"]["signal"] is True
    assert read["purposes"]["sale_sharing"]["granted"] is False
    confirmed = client.post(
        f"{BASE}/device_id:{SECRET}",
        json={"choices": choices(sale_sharing=True), "regime": "ccpa", "confirmed_over_gpc": True},
        headers={"Sec-GPC": "1"},
    )
    assert confirmed.json()["effective"]["sale_sharing"] is True


def test_history_pages(client: httpx.Client) -> None:
    for granted in (True, False, True):
        client.post(f"{BASE}/{SECRET}", json={"choices": choices(analytics=granted), "tcf": "x"})
    first = client.get(f"{BASE}/{SECRET}/history", params={"limit": 2}).json()
    assert [r["entries"][0]["granted"] for r in first["items"]] == [True, False]
    assert first["items"][0]["tcf"] == "x"
    assert first["items"][0]["tcf_valid"] is False  # stored as received, flagged
    rest = client.get(f"{BASE}/{SECRET}/history", params={"after": first["next_after"]}).json()
    assert [r["entries"][0]["granted"] for r in rest["items"]] == [True]
    assert rest["next_after"] is None


def test_link_carries_device_choices_to_the_user(client: httpx.Client) -> None:
    client.post(f"{BASE}/user_id:{SECRET}", json={"choices": choices(analytics=False)})
    client.post(
        f"{BASE}/device_id:d-1", json={"choices": choices(analytics=True, personalisation=True)}
    )
    linked = client.post(f"{BASE}/links", json={"from": "device_id:d-1", "to": SECRET})
    assert linked.status_code == 201, linked.text
    assert SECRET not in linked.text
    got = {e["purpose"]: e["resolution"] for e in linked.json()["entries"]}
    assert got == {"analytics": "newer_device_choice", "personalisation": "device_choice_taken"}
    state = client.get(f"{BASE}/{SECRET}").json()["purposes"]
    assert state["analytics"]["source"] == "link"
    history = client.get(f"{BASE}/{SECRET}/history").json()["items"]
    assert history[-1]["linked"] is True
    bad = client.post(f"{BASE}/links", json={"from": "user_id:x", "to": SECRET})
    assert bad.status_code == 422


def test_gpc_on_request_intake_is_recorded_and_audited(client: httpx.Client) -> None:
    body = {"type": "access", "identities": {"user_id": SECRET}, "regime": "ccpa"}
    answer = client.post("/api/v1/privacy-requests", json=body, headers={"Sec-GPC": "1"})
    assert answer.status_code == 202, answer.text
    assert answer.headers["GPC-Honoured"] == "1"
    state = client.get(f"{BASE}/{SECRET}", params={"regime": "ccpa"}).json()["purposes"]
    assert (state["advertising"]["granted"], state["advertising"]["source"]) == (False, "gpc")
    trail = client.get(f"/api/v1/privacy-requests/{answer.json()['id']}/audit").json()
    [event] = [e for e in trail if e["action"] == consent_requests.GPC_HONOURED]
    assert event["detail"]["opted_out"] == ["advertising", "sale_sharing"]
    assert SECRET not in str(trail)
    plain = client.post("/api/v1/privacy-requests", json={**body, "type": "access"})
    assert "GPC-Honoured" not in plain.headers


async def test_an_opt_out_request_is_recorded_once_and_propagated(
    platform: Platform, propagator: RecordingPropagator
) -> None:
    new = requests.NewRequest("opt_out", {"email": "Ann@Example.org"}, "ccpa", source="agent:a1")
    request, _ = requests.submit(platform, new)
    await consent_requests.opt_out_and_propagate(platform, request.id)
    await consent_requests.opt_out_and_propagate(platform, request.id)  # a retried step
    record_id = consent_requests.opt_out_record_id(request.id)
    assert propagator.records == [record_id, record_id]
    # the record is under the email's hash, however it was typed
    page = consent.history(platform, SubjectRef(SubjectKind.EMAIL, "ann@example.org"), None, 10)
    [(stored, entries)] = page.items
    assert (stored.id, stored.source.value, stored.request_id) == (record_id, "agent", request.id)
    assert {e.purpose: e.effective for e in entries} == {
        "advertising": False,
        "sale_sharing": False,
    }
