"""The console's request queue and request page over the real app and SQLite: filters, the
search by identity hash, overdue-first order, what each role sees and may do, and the actions
changing the request, its audit trail and its workflow like the REST routes do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rightsflow.domain.access import Role
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.services import execution, requests
from tests.support.web_stack import WebStack, csrf_of, web_stack

API = "/api/v1/privacy-requests"
ALICE = "customer0000001@shop.example"
BOB = "customer0000002@shop.example"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[WebStack]:
    with web_stack(tmp_path, customers=3) as built:
        yield built


def _submit(stack: WebStack, email: str, **body: Any) -> str:
    payload = {"identities": {"email": email}, "type": "erasure", "regime": "ccpa", **body}
    answer = stack.client().post(API, json=payload, headers=stack.owner)
    assert answer.status_code == 202, answer.text
    rid: str = answer.json()["id"]
    return rid


def _awaiting_approval(stack: WebStack, email: str = ALICE) -> str:
    return _submit(stack, email, identity_verified=True)


def _rest(stack: WebStack, rid: str, suffix: str = "") -> Any:
    answer = stack.client().get(f"{API}/{rid}{suffix}", headers=stack.owner)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _stored(stack: WebStack, rid: str) -> PrivacyRequest:
    return requests.get(stack.runtime.platform, rid)


def _due_in(stack: WebStack, rid: str, delta: timedelta) -> None:
    platform = stack.runtime.platform
    with platform.uow() as uow:
        request = uow.requests.get(rid)
        request.due_at = platform.clock() + delta
        uow.requests.save(request)
        uow.commit()


def _shown_ids(html: str) -> list[str]:
    return re.findall(r'href="/console/requests/([0-9a-f-]{36})"', html)


def _post(browser: Any, path: str, page_html: str, **form: str) -> Any:
    return browser.post(path, data={"csrf_token": csrf_of(page_html), **form})


def test_the_queue_filters_by_status_type_and_regime(stack: WebStack) -> None:
    erasure = _awaiting_approval(stack)
    access = _submit(stack, BOB, type="access", regime="gdpr")
    browser = stack.signed_in(Role.VIEWER)
    assert set(_shown_ids(browser.get("/console/").text)) == {erasure, access}
    assert _shown_ids(browser.get("/console/?type=access").text) == [access]
    assert _shown_ids(browser.get("/console/?regime=ccpa").text) == [erasure]
    by_status = browser.get("/console/?status=awaiting_approval&type=&regime=&due=all")
    assert _shown_ids(by_status.text) == [erasure]
    assert 'value="awaiting_approval" selected' in by_status.text
    bad = browser.get("/console/?status=bogus")
    assert bad.status_code == 422
    assert "bogus" not in bad.text.split("<main", 1)[1].split("expected", 1)[0]


def test_search_by_email_finds_exactly_that_persons_requests(stack: WebStack) -> None:
    alices = _awaiting_approval(stack, ALICE)
    bobs = _awaiting_approval(stack, BOB)
    browser = stack.signed_in(Role.VIEWER)
    queue = browser.get("/console/").text
    found = _post(browser, "/console/search", queue, kind="email", value=ALICE.upper())
    assert found.status_code == 200
    assert _shown_ids(found.text) == [alices]
    assert "1 request made with the email address searched for" in found.text
    assert ALICE not in found.text.lower()  # the identity is not echoed back
    other = _post(browser, "/console/search", queue, kind="email", value=BOB)
    assert _shown_ids(other.text) == [bobs]
    nobody = _post(browser, "/console/search", queue, kind="email", value="no@one.example")
    assert _shown_ids(nobody.text) == []
    unlabelled = browser.post("/console/search", data={"kind": "email", "value": ALICE})
    assert unlabelled.status_code == 403  # no CSRF token
    blank = _post(browser, "/console/search", queue, kind="email", value="  ")
    assert blank.status_code == 422
    assert 'aria-invalid="true"' in blank.text


def test_overdue_first_then_due_soon_then_by_due_date(stack: WebStack) -> None:
    later, overdue, soon = (_awaiting_approval(stack) for _ in range(3))
    _due_in(stack, later, timedelta(days=30))
    _due_in(stack, overdue, -timedelta(days=3) + timedelta(hours=1))
    _due_in(stack, soon, timedelta(days=2, hours=1))
    browser = stack.signed_in(Role.VIEWER)
    page = browser.get("/console/").text
    assert _shown_ids(page) == [overdue, soon, later]
    assert "overdue by 3 days" in page
    assert "due in 2 days" in page
    assert "due in 30 days" in page
    assert _shown_ids(browser.get("/console/?due=overdue").text) == [overdue]
    assert _shown_ids(browser.get("/console/?due=due-soon").text) == [soon]


def test_roles_see_only_the_actions_they_may_take(stack: WebStack) -> None:
    rid = _awaiting_approval(stack)
    path = f"/console/requests/{rid}"
    viewer = stack.signed_in(Role.VIEWER)
    seen = viewer.get(path)
    assert seen.status_code == 200
    assert "Approve request" not in seen.text
    assert "Deny request" not in seen.text
    refused = _post(viewer, f"{path}/approve", seen.text)
    assert refused.status_code == 403
    assert "requests:approve" in refused.text
    assert _rest(stack, rid)["status"] == "awaiting_approval"
    reviewer_page = stack.signed_in(Role.REVIEWER).get(path).text
    for action in ("Approve request", "Deny request", "Extend deadline"):
        assert action in reviewer_page
    assert "Mark identity verified" not in reviewer_page  # not awaiting verification
    assert ALICE not in reviewer_page  # no identity values on the page


def test_approve_needs_the_form_token_then_changes_status_audit_and_workflow(
    stack: WebStack,
) -> None:
    rid = _awaiting_approval(stack)
    path = f"/console/requests/{rid}"
    reviewer = stack.signed_in(Role.REVIEWER)
    page = reviewer.get(path).text
    assert reviewer.post(f"{path}/approve", data={}).status_code == 403
    assert _rest(stack, rid)["status"] == "awaiting_approval"
    assert rid not in stack.starter.changes

    done = _post(reviewer, f"{path}/approve", page)
    assert done.status_code == 303
    assert done.headers["location"] == f"{path}?done=approved"
    after = reviewer.get(done.headers["location"]).text
    assert "The request is approved" in after
    assert "Approve request" not in after
    stored = _stored(stack, rid)
    assert stored.status.value == "executing"
    assert stored.decided_by is not None
    assert stored.decided_by.startswith("user:")
    changes = [e for e in _rest(stack, rid, "/audit") if e["to_status"] == "executing"]
    assert [e["actor"] for e in changes] == [stored.decided_by]
    assert rid in stack.starter.changes
    again = _post(reviewer, f"{path}/approve", page)
    assert again.status_code == 409


def test_deny_with_a_reason_from_the_list(stack: WebStack) -> None:
    rid = _awaiting_approval(stack)
    path = f"/console/requests/{rid}"
    reviewer = stack.signed_in(Role.REVIEWER)
    page = reviewer.get(path).text
    assert 'value="suspected_fraud"' in page
    bad = _post(reviewer, f"{path}/deny", page, reason="because")
    assert bad.status_code == 422
    assert 'id="deny-reason-error"' in bad.text
    done = _post(reviewer, f"{path}/deny", page, reason="suspected_fraud")
    assert done.headers["location"] == f"{path}?done=denied"
    stored = _stored(stack, rid)
    assert (stored.status.value, stored.denial_reason) == ("denied", "suspected_fraud")
    assert "suspected fraud" in reviewer.get(path).text


def test_extend_takes_a_reason_and_a_period(stack: WebStack) -> None:
    rid = _awaiting_approval(stack)
    before = _stored(stack, rid).due_at
    path = f"/console/requests/{rid}"
    reviewer = stack.signed_in(Role.REVIEWER)
    page = reviewer.get(path).text
    no_reason = _post(reviewer, f"{path}/extend", page, reason=" ", period="")
    assert no_reason.status_code == 422
    assert 'id="extend-reason-error"' in no_reason.text  # the message sits by the field
    assert 'aria-describedby="extend-reason-error"' in no_reason.text
    bad_period = _post(reviewer, f"{path}/extend", page, reason="Many systems", period="soon")
    assert bad_period.status_code == 422
    assert 'id="extend-period-error"' in bad_period.text
    assert _stored(stack, rid).extended_at is None
    done = _post(reviewer, f"{path}/extend", page, reason="Many systems", period="30 days")
    assert done.headers["location"] == f"{path}?done=extended"
    stored = _stored(stack, rid)
    assert stored.extension_reason == "Many systems"
    assert stored.due_at > before
    assert "Extend deadline" not in reviewer.get(path).text  # once only


def test_a_failed_request_shows_its_plan_and_can_be_retried(stack: WebStack) -> None:
    rid = _awaiting_approval(stack)
    platform = stack.runtime.platform
    path = f"/console/requests/{rid}"
    owner = stack.signed_in(Role.OWNER)
    _post(owner, f"{path}/approve", owner.get(path).text)
    execution.begin(platform, rid)  # plans it, as the workflow's first step does
    execution.finish(platform, rid, failure="a step failed")
    page = owner.get(path).text
    assert "<svg" in page
    assert 'role="img"' in page
    assert '<g class="graph-node pending"' in page  # nothing ran: every node waits
    assert '<th scope="row">shop:customers</th>' in page  # the table next to the graph
    assert "request.planned" in page  # the timeline
    assert "Retry failed systems" in page
    assert "Retry failed systems" not in stack.signed_in(Role.REVIEWER).get(path).text
    done = _post(owner, f"{path}/retry", page)
    assert done.headers["location"] == f"{path}?done=retried"
    assert _rest(stack, rid)["status"] == "executing"
    assert any(started == rid for started, _ in stack.starter.started)


def test_a_finished_erasure_links_its_receipt(stack: WebStack) -> None:
    rid = _awaiting_approval(stack)
    platform = stack.runtime.platform
    owner = stack.signed_in(Role.OWNER)
    path = f"/console/requests/{rid}"
    _post(owner, f"{path}/approve", owner.get(path).text)
    execution.begin(platform, rid)
    execution.finish(platform, rid)
    page = owner.get(path).text
    assert f'href="{API}/{rid}/receipt"' in page
    assert "Receipt" in page
    receipt = owner.get(f"{API}/{rid}/receipt")  # the link works with the session cookie
    assert receipt.status_code == 200, receipt.text


def test_unknown_requests_are_a_404_page(stack: WebStack) -> None:
    browser = stack.signed_in(Role.VIEWER)
    for rid in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        answer = browser.get(f"/console/requests/{rid}")
        assert answer.status_code == 404
        assert "text/html" in answer.headers["content-type"]
        assert "Not found." in answer.text


def test_verify_by_hand_moves_an_unverified_request_on(stack: WebStack) -> None:
    rid = _submit(stack, ALICE)  # CCPA erasure, identity not yet proven
    assert _stored(stack, rid).status.value == "awaiting_verification"
    path = f"/console/requests/{rid}"
    operator = stack.signed_in(Role.PRIVACY_OPERATOR)
    page = operator.get(path).text
    assert "Mark identity verified" in page
    done = _post(operator, f"{path}/verify", page)
    assert done.headers["location"] == f"{path}?done=verified"
    stored = _stored(stack, rid)
    assert stored.verified_at is not None
    assert stored.status.value != "awaiting_verification"
