"""Attesting a manual task from the console's request page, over the real app and SQLite with
the shop data map plus a `crm` system only a person can handle (the `manual` connector)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.domain.access import Role
from rightsflow.services import execution, system_calls
from tests.support.manual_tasks import OWNER, add_manual_system
from tests.support.stack import make_shop
from tests.support.web_stack import WebStack, csrf_of, web_stack

API = "/api/v1/privacy-requests"
ALICE = "customer0000001@shop.example"


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebStack]:
    def with_crm(root: Path, **kwargs: Any) -> Any:
        made = make_shop(root, **kwargs)
        add_manual_system(made[1])
        return made

    # The shop data map plus the crm system (web_stack builds its map with make_shop).
    monkeypatch.setattr("tests.support.web_stack.make_shop", with_crm)
    with web_stack(tmp_path, customers=3) as built:
        yield built


def _task(stack: WebStack, kind: str, operation: str) -> tuple[str, str]:
    """(request id, task id): a verified, approved request asking the crm's person."""
    body = {"identities": {"email": ALICE}, "type": kind, "regime": "gdpr"}
    answer = stack.client().post(API, json={**body, "identity_verified": True}, headers=stack.owner)
    assert answer.status_code == 202, answer.text
    rid: str = answer.json()["id"]
    if answer.json()["status"] == "awaiting_approval":  # erasures wait for a person
        owner = stack.signed_in(Role.OWNER)
        page = owner.get(f"/console/requests/{rid}").text
        approve = owner.post(f"/console/requests/{rid}/approve", data={"csrf_token": csrf_of(page)})
        assert approve.status_code == 303
    platform = stack.runtime.platform
    execution.begin(platform, rid)
    assert system_calls.ask(platform, rid, "crm", operation).status == "pending"
    with platform.uow() as uow:
        (call,) = uow.calls.for_request(rid)
    return rid, call.id


def _events(stack: WebStack, rid: str, action: str) -> list[dict[str, Any]]:
    answer = stack.client().get(f"{API}/{rid}/audit", headers=stack.owner)
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json() if e["action"] == action]


def test_only_roles_that_approve_see_the_attestation_form(stack: WebStack) -> None:
    rid, task_id = _task(stack, "erasure", "erase")
    path = f"/console/requests/{rid}"
    form_action = f"{path}/tasks/{task_id}/attest"
    assert form_action in stack.signed_in(Role.REVIEWER).get(path).text
    viewer = stack.signed_in(Role.VIEWER)
    page = viewer.get(path).text
    assert form_action not in page
    refused = viewer.post(form_action, data={"csrf_token": csrf_of(page), "outcome": "no_data"})
    assert refused.status_code == 403
    assert "requests:approve" in refused.text
    assert stack.starter.answers == []


def test_an_erase_task_attested_in_the_console_completes_once(stack: WebStack) -> None:
    rid, task_id = _task(stack, "erasure", "erase")
    path = f"/console/requests/{rid}"
    reviewer = stack.signed_in(Role.REVIEWER)
    page = reviewer.get(path).text
    assert OWNER in page  # whose task it is (the assignee), never the subject
    form = {"outcome": "done", "counts.contacts": "1"}
    assert reviewer.post(f"{path}/tasks/{task_id}/attest", data=form).status_code == 403

    done = reviewer.post(
        f"{path}/tasks/{task_id}/attest", data={**form, "csrf_token": csrf_of(page)}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{path}?done=attested"
    after = reviewer.get(done.headers["location"]).text
    assert "attested on its assignee" in after
    assert f"/tasks/{task_id}/attest" not in after
    assert stack.starter.answers == [(rid, "crm", "erase")]
    (attested,) = _events(stack, rid, "task.attested")
    assert attested["actor"].startswith("user:")
    assert attested["detail"] == {
        "system": "crm", "operation": "erase", "via": "console", "on_behalf_of": OWNER
    }  # fmt: skip
    (answered,) = _events(stack, rid, "system.answered")
    assert answered["actor"] == attested["actor"]
    assert answered["detail"]["counts"] == {"contacts": 1}

    again = reviewer.post(
        f"{path}/tasks/{task_id}/attest", data={**form, "csrf_token": csrf_of(page)}
    )
    assert again.status_code == 409
    assert stack.starter.answers == [(rid, "crm", "erase")]


def test_a_refused_attestation_shows_the_form_again_with_the_message(stack: WebStack) -> None:
    rid, task_id = _task(stack, "access", "access")
    path = f"/console/requests/{rid}"
    reviewer = stack.signed_in(Role.REVIEWER)
    page = reviewer.get(path).text
    post = f"{path}/tasks/{task_id}/attest"
    token = csrf_of(page)
    no_reason = reviewer.post(post, data={"csrf_token": token, "outcome": "cannot_comply"})
    assert no_reason.status_code == 422
    assert "cannot_comply needs a reason" in no_reason.text
    assert f'aria-describedby="task-{task_id}-reason-error"' in no_reason.text
    secret = {"id": 1, "email": ALICE, "shoe_size": "43"}
    undeclared = reviewer.post(
        post, data={"csrf_token": token, "outcome": "done", "rows.contacts": json.dumps([secret])}
    )
    assert undeclared.status_code == 422
    assert f'id="task-{task_id}-rows.contacts-error"' in undeclared.text
    assert "not declared in crm:contacts" in undeclared.text
    assert stack.starter.answers == []

    row = {"id": 1, "email": ALICE, "name": "Alice"}
    done = reviewer.post(
        post, data={"csrf_token": token, "outcome": "done", "rows.contacts": json.dumps([row])}
    )
    assert done.status_code == 303, done.text
    (answered,) = _events(stack, rid, "system.answered")
    assert answered["detail"]["counts"] == {"contacts": 1}
    assert stack.starter.answers == [(rid, "crm", "access")]
