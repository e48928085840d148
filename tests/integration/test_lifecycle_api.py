"""The request lifecycle over the real API, database, vault and SMTP: verification by emailed
code, the decision, denial, extension and withdrawal, with the deadline the regime sets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rightsflow.domain.regimes import get_regime, response_due
from rightsflow.domain.requests import RequestType
from tests.support.lifecycle_stack import T0, URL, Lifecycle, lifecycle_stack

EMAIL = "customer0000003@shop.example"
PROBLEM = "application/problem+json"
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def life(tmp_path: Path) -> Iterator[Lifecycle]:
    with lifecycle_stack(tmp_path) as stack:
        yield stack


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


def _subject(token: str) -> dict[str, str]:
    return {"Subject-Token": token, "Authorization": ""}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_gdpr_access_waits_for_the_code_with_the_clock_paused(life: Lifecycle) -> None:
    created = life.submit(type="access", regime="gdpr")
    rid, token = created["id"], created["subject_token"]
    assert created["status"] == "awaiting_verification"
    assert created["deadline_paused"] is True
    assert _at(created["verify_by"]) == T0 + timedelta(days=14)
    assert [m.recipients for m in life.smtp.received] == [[EMAIL]]  # the code, nothing else
    code = life.code_for(rid)
    assert code not in str(life.audit(rid))

    life.clock.advance(days=3)  # the subject takes three days to answer: the code has expired
    url = f"/api/v1/subject/requests/{rid}/code"
    stale = life.client.post(url, json={"code": code}, headers=_subject(token))
    assert "expired" in _problem(stale, 422)["detail"]
    resent = life.client.post(f"{url}/resend", headers=_subject(token))
    assert resent.status_code == 200, resent.text
    code = life.code_for(rid)
    too_soon = life.client.post(f"{url}/resend", headers=_subject(token))
    assert _problem(too_soon, 409)["type"].endswith("verification-resend-refused")
    assert 0 < int(too_soon.headers["retry-after"]) <= 120
    wrong = "000000" if code != "000000" else "111111"
    refused = life.client.post(
        f"/api/v1/subject/requests/{rid}/code", json={"code": wrong}, headers=_subject(token)
    )
    assert "4 attempt(s) left" in _problem(refused, 422)["detail"]
    done = life.client.post(
        f"/api/v1/subject/requests/{rid}/code", json={"code": code}, headers=_subject(token)
    )
    assert done.status_code == 200, done.text
    body = done.json()
    # Verified access is approved by the default rule; the month starts from verification.
    assert (body["status"], body["deadline_paused"]) == ("executing", False)
    gdpr = get_regime("gdpr")
    assert _at(body["due_at"]) == response_due(gdpr, RequestType.ACCESS, life.clock.now)
    assert _at(body["due_at"]) > _at(created["due_at"])
    assert set(life.starter.changes) == {rid}  # the workflow was told of each change
    actions = [e["action"] for e in life.audit(rid)]
    for expected in ("deadline.paused", "verification.code_sent", "verification.failed",
                     "verification.succeeded", "request.verified", "deadline.resumed"):  # fmt: skip
        assert expected in actions


def test_too_many_wrong_codes_lock_until_an_operator_unlocks(life: Lifecycle) -> None:
    created = life.submit(type="erasure", regime="uk_gdpr")
    rid, token = created["id"], created["subject_token"]
    code = life.code_for(rid)
    wrong = "000000" if code != "000000" else "111111"
    url = f"/api/v1/subject/requests/{rid}/code"
    for _ in range(4):
        _problem(life.client.post(url, json={"code": wrong}, headers=_subject(token)), 422)
    locked = _problem(life.client.post(url, json={"code": wrong}, headers=_subject(token)), 409)
    assert "locked" in locked["detail"]
    # Locked means locked: even the right code is refused now.
    _problem(life.client.post(url, json={"code": code}, headers=_subject(token)), 409)
    assert "verification.locked" in [e["action"] for e in life.audit(rid)]

    assert life.client.post(f"{URL}/{rid}/verification/unlock").status_code == 200
    resent = life.client.post(f"{URL}/{rid}/verification/resend")
    assert resent.status_code == 200, resent.text
    fresh = life.code_for(rid)
    answer = life.client.post(url, json={"code": fresh}, headers=_subject(token))
    assert answer.status_code == 200, answer.text
    # Erasure is not approved automatically: it waits for an operator.
    assert answer.json()["status"] == "awaiting_approval"


def test_the_subject_token_is_checked_first(life: Lifecycle) -> None:
    created = life.submit(type="access", regime="gdpr")
    rid = created["id"]
    for method, path in [("GET", ""), ("POST", "/withdraw"), ("POST", "/code")]:
        response = life.client.request(
            method, f"/api/v1/subject/requests/{rid}{path}", headers=_subject("x" * 64),
            json={"code": "123456"},
        )  # fmt: skip
        _problem(response, 401)
    withdrawn = life.client.post(
        f"/api/v1/subject/requests/{rid}/withdraw", headers=_subject(created["subject_token"])
    )
    assert withdrawn.json()["status"] == "canceled"
    actor = [e["actor"] for e in life.audit(rid) if e.get("to_status") == "canceled"]
    assert actor == ["subject"]


def test_ccpa_opt_out_needs_no_verification_and_is_due_in_15_business_days(
    life: Lifecycle,
) -> None:
    created = life.submit(type="opt_out", regime="ccpa")
    assert created["status"] == "executing"
    assert created["verified_at"] is None
    # Monday 2 March 2026 + 15 business days (no California holiday in between) = Monday
    # 23 March, to the end of that day in Los Angeles.
    assert _at(created["due_at"]).astimezone(LA).isoformat() == "2026-03-23T23:59:59.999999-07:00"
    assert created["acknowledge_by"] is None
    assert life.smtp.received == []


def test_a_verified_erasure_waits_for_approval_and_illegal_moves_name_the_state(
    life: Lifecycle,
) -> None:
    created = life.submit(type="erasure", regime="ccpa", identity_verified=True)
    rid = created["id"]
    assert created["status"] == "awaiting_approval"
    # CCPA: receipt confirmed (by mail) within 10 business days; 45 days to answer.
    assert created["acknowledged_at"] is not None
    assert _at(created["acknowledge_by"]) > T0
    assert _at(created["due_at"]).astimezone(LA).date() == (T0 + timedelta(days=45)).date()
    ops = life.mail_to("privacy-ops@localhost")
    assert [str(m.message["Subject"]) for m in ops] == ["[rightsflow] Request awaiting approval"]

    approved = life.client.post(f"{URL}/{rid}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == (
        "executing",
        "bootstrap:owner",
    )
    again = _problem(life.client.post(f"{URL}/{rid}/approve"), 409)
    assert again["current_status"] == "executing"
    assert "wait for it to finish, or cancel it" in again["detail"]
    denied = _problem(life.client.post(f"{URL}/{rid}/deny", json={"reason": "no_data_found"}), 409)
    assert denied["current_status"] == "executing"


def test_deny_takes_a_reason_from_the_list_and_tells_the_subject(life: Lifecycle) -> None:
    rid = life.submit(type="erasure", regime="ccpa", identity_verified=True)["id"]
    bad = _problem(life.client.post(f"{URL}/{rid}/deny", json={"reason": "because"}), 422)
    assert "identity_not_verified" in bad["detail"]
    response = life.client.post(f"{URL}/{rid}/deny", json={"reason": "exemption_applies"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["denial_reason"]) == ("denied", "exemption_applies")
    assert body["closed_at"] is not None
    assert body["next_actions"] == []
    assert body["appeal_until"] is None  # the CCPA has no appeal; Virginia's does:
    va = life.submit(type="erasure", regime="vcdpa", identity_verified=True)["id"]
    appeal = life.client.post(f"{URL}/{va}/deny", json={"reason": "no_data_found"}).json()
    assert _at(appeal["appeal_until"]) > _at(appeal["decided_at"]) + timedelta(days=30)
    mails = [str(m.message["Subject"]) for m in life.mail_to(EMAIL)]
    assert mails[-1].startswith("Your request was denied")


def test_extension_within_the_maximum_once_before_the_deadline(life: Lifecycle) -> None:
    created = life.submit(type="access", regime="ccpa", identity_verified=True)
    rid, due = created["id"], _at(created["due_at"])
    too_long = life.client.post(
        f"{URL}/{rid}/extend", json={"reason": "many systems", "period": "60 days"}
    )
    assert "at most 45 days" in _problem(too_long, 422)["detail"]
    _problem(life.client.post(f"{URL}/{rid}/extend", json={"reason": " "}), 422)
    ok = life.client.post(f"{URL}/{rid}/extend", json={"reason": "many systems"})
    assert ok.status_code == 200, ok.text
    extended = _at(ok.json()["due_at"]).astimezone(LA).date()
    assert extended == (due.astimezone(LA) + timedelta(days=45)).date()
    assert ok.json()["extension_reason"] == "many systems"
    assert str(life.mail_to(EMAIL)[-1].message["Subject"]).startswith("We need more time")
    twice = _problem(life.client.post(f"{URL}/{rid}/extend", json={"reason": "again"}), 409)
    assert "already extended" in twice["detail"]
    extended = [e for e in life.audit(rid) if e["action"] == "deadline.extended"]
    assert len(extended) == 1


def test_extension_refused_after_the_deadline_and_where_the_law_has_none(
    life: Lifecycle,
) -> None:
    late = life.submit(type="access", regime="ccpa", identity_verified=True)["id"]
    life.clock.advance(days=46)
    passed = _problem(life.client.post(f"{URL}/{late}/extend", json={"reason": "x"}), 409)
    assert "before it" in passed["detail"]
    lgpd = life.submit(type="access", regime="lgpd", identity_verified=True)["id"]
    none = _problem(life.client.post(f"{URL}/{lgpd}/extend", json={"reason": "x"}), 422)
    assert "allows no extension" in none["detail"]


def test_a_right_the_regime_does_not_grant_is_refused_by_name(life: Lifecycle) -> None:
    response = life.client.post(
        URL, json={"type": "restriction", "regime": "ccpa", "identities": {"email": EMAIL}}
    )
    body = _problem(response, 422)
    assert "grants no restriction right" in body["detail"]
    assert body["errors"][0]["field"] == "type"
