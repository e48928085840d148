"""Manual tasks: the tasks service and API over fakes, with the real `manual` connector."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from rightsflow.connectors.manual import ManualConfig, ManualConnector
from rightsflow.connectors.pool import ConnectorPool
from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.errors import InvalidInput, Refused
from rightsflow.domain.records import NodeResult, SystemCallRecord
from rightsflow.domain.requests import RequestStatus
from rightsflow.services import audit, execution, system_calls, tasks
from rightsflow.services.platform import Platform
from rightsflow.services.requests import NewRequest, cancel, retry, submit
from rightsflow.services.rows import iter_rows, stored_pages
from rightsflow.services.tasks import Attestation
from tests.support.manual_tasks import CRM_YML, INSTRUCTIONS, OWNER, manual_system, task_link
from tests.unit.fakes import (
    FakeStore,
    RecordingNotifier,
    RecordingStarter,
    api_harness,
    make_platform,
)

EMAIL = "ada.lovelace@example.com"
URL = "/api/v1/tasks"
ROW = {"id": 7, "email": EMAIL, "name": "Ada", "notes": "called twice"}


def crm_platform(platform: Platform) -> Platform:
    systems = yaml.safe_dump({"systems": [manual_system()]})
    datamap = parse_datamap({"crm.yml": CRM_YML, "systems.yml": systems}, env={})
    pool = ConnectorPool(ConnectorRegistry(builtin_specs()), datamap)
    return replace(platform, datamap=datamap, connectors=pool)


@dataclass
class Task:
    platform: Platform
    store: FakeStore
    request_id: str
    id: str
    token: str
    notice: str  # the assignee's notification body

    def events(self, action: str) -> list[dict[str, Any]]:
        return [dict(e.detail) for e in self.store.state.audit if e.action == action]


def open_task(platform: Platform, store: FakeStore, kind: str, operation: str) -> Task:
    request, _ = submit(platform, NewRequest(kind, {"email": EMAIL}, "gdpr", verified=True))
    execution.begin(platform, request.id)
    state = system_calls.ask(platform, request.id, "crm", operation)
    assert state.status == "pending"
    assert isinstance(platform.notifier, RecordingNotifier)
    to, _subject, body = platform.notifier.sent[-1]
    assert to == OWNER
    task_id, token = task_link(body)
    return Task(platform, store, request.id, task_id, token, body)


@pytest.fixture
def access_task() -> Task:
    platform, store = make_platform()
    return open_task(crm_platform(platform), store, "access", "access")


@pytest.fixture
def erase_task() -> Task:
    platform, store = make_platform()
    return open_task(crm_platform(platform), store, "erasure", "erase")


def done(**extra: Any) -> Attestation:
    return Attestation(**{"outcome": "done", "attested_by": "Grace Hopper", **extra})


# -- the connector ------------------------------------------------------------------------------


def test_manual_config_takes_one_email_address_and_forbids_unknown_keys() -> None:
    registry = ConnectorRegistry(builtin_specs())
    assert registry.validate_config("manual", {"owner": OWNER, "instructions": "x"}) == []
    assert registry.validate_config("manual", {"owner": "a@x.org, b@x.org", "instructions": "x"})
    assert registry.validate_config("manual", {"owner": "grace", "instructions": "x"})
    assert registry.validate_config("manual", {"owner": OWNER, "instructions": "x", "to": 1})
    config = ManualConfig(owner=f" {OWNER} ", instructions="x")
    assert (config.owner, config.answer_within_s, config.remind_every_s) == (OWNER, 259200, 86400)
    connector = registry.create("manual", {"owner": OWNER, "instructions": "x"})
    assert isinstance(connector, ManualConnector)
    assert not connector.rechecks
    assert connector.wait.assignee == OWNER


# -- the service --------------------------------------------------------------------------------


def test_the_notification_and_the_list_carry_no_identities(access_task: Task) -> None:
    assert INSTRUCTIONS in access_task.notice
    assert EMAIL not in access_task.notice
    listed = tasks.open_tasks(access_task.platform)
    assert [(t.id, t.system, t.operation, t.assignee) for t in listed] == [
        (access_task.id, "crm", "access", OWNER)
    ]
    assert EMAIL not in repr(listed)
    assert tasks.open_tasks(access_task.platform, assignee="someone@else.example") == []


def test_the_view_shows_whose_data_only_with_the_token(access_task: Task) -> None:
    view = tasks.task_view(access_task.platform, access_task.id, access_task.token)
    assert view.identities == {"email": EMAIL}
    assert view.instructions == INSTRUCTIONS
    (contacts,) = view.collections
    assert (contacts.name, contacts.address, contacts.action) == (
        "contacts",
        "crm:contacts",
        "return",
    )
    assert set(contacts.fields) == {"id", "email", "name", "notes"}
    assert {t.path: t.categories for t in contacts.targets}["email"] == ("user.contact.email",)
    assert EMAIL not in repr(view)  # identities stay out of logs and tracebacks
    assert access_task.events("task.viewed") == [{"system": "crm", "operation": "access"}]
    for wrong in ("", "not-the-token", access_task.token[:-1]):
        with pytest.raises(Refused):
            tasks.task_view(access_task.platform, access_task.id, wrong)
    assert [e["reason"] for e in access_task.events("task.refused")] == ["wrong token"] * 3
    with pytest.raises(Refused):
        tasks.task_view(access_task.platform, str(uuid.uuid4()), access_task.token)


def test_attesting_rows_records_them_and_spends_the_token(access_task: Task) -> None:
    call = tasks.attest(access_task.platform, access_task.id, access_task.token, done(
        rows={"contacts": [ROW, {"id": 8, "email": EMAIL}]}
    ))  # fmt: skip
    assert (call.status, call.actor, call.outcome, call.counts) == (
        "answered", "Grace Hopper", "done", {"contacts": 2}
    )  # fmt: skip
    platform, rid = access_task.platform, access_task.request_id
    with platform.uow() as uow:
        stored = list(
            iter_rows(platform.vault, rid, stored_pages(uow.results, rid, "crm:contacts"))
        )
    assert stored[0] == ROW
    assert stored[1] == {"id": 8, "email": EMAIL, "name": None, "notes": None}
    assert system_calls.outcome(platform, rid, "crm", "access") == ""
    assert tasks.open_tasks(platform) == []
    with pytest.raises(Refused, match="already answered"):
        tasks.attest(platform, access_task.id, access_task.token, done())
    with pytest.raises(Refused, match="already answered"):
        tasks.task_view(platform, access_task.id, access_task.token)
    assert [e["reason"] for e in access_task.events("task.refused")] == [
        "already answered (replayed)"
    ] * 2
    (answered,) = access_task.events("system.answered")
    assert answered["outcome"] == "done"


def test_cannot_comply_needs_a_reason_which_stays_on_the_call(erase_task: Task) -> None:
    platform, rid = erase_task.platform, erase_task.request_id
    for reason in (None, "  "):
        with pytest.raises(InvalidInput, match="needs a reason") as caught:
            tasks.attest(platform, erase_task.id, erase_task.token, Attestation(
                outcome="cannot_comply", attested_by="grace@crm.example", reason=reason
            ))  # fmt: skip
        assert caught.value.field == "reason"
    call = tasks.attest(
        platform,
        erase_task.id,
        erase_task.token,
        Attestation(
            outcome="cannot_comply", attested_by="grace@crm.example", reason="Vendor export is down"
        ),
    )  # fmt: skip  (the refused attempts did not spend the token)
    assert (call.outcome, call.detail) == ("cannot_comply", "Vendor export is down")
    assert "cannot be done" in system_calls.outcome(platform, rid, "crm", "erase")


@pytest.mark.parametrize(
    ("attestation", "field", "message"),
    [
        (done(rows={"orders": [ROW]}), "rows.orders", "'orders' is not a collection of crm"),
        (done(rows={"contacts": [ROW, {"id": 1, "phone": "1"}]}), "rows.contacts.1.phone",
         "rows.contacts[1]: 'phone' is not declared in crm:contacts; its fields: "),
        (done(rows={"contacts": [{"id": 1, EMAIL: "x"}]}), f"rows.contacts.0.{EMAIL}",
         "1 other name(s) is not declared"),
        (done(rows={EMAIL: []}), f"rows.{EMAIL}", "1 other name(s) is not a collection"),
        (Attestation("no_data", "Grace", rows={"contacts": [ROW]}), "rows", "no_data means no"),
        (done(counts={"contacts": 1}), "counts", "counts are attested by erase tasks"),
        (done(attested_by=" "), "attested_by", "say who attests"),
        (done(attested_by="Grace\nHopper"), "attested_by", "one line"),
        (Attestation("maybe", "Grace"), "outcome", "expected one of"),
    ],
)  # fmt: skip
def test_an_access_attestation_must_fit_the_task(
    access_task: Task, attestation: Attestation, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        tasks.attest(access_task.platform, access_task.id, access_task.token, attestation)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert EMAIL not in str(caught.value)
    assert tasks.open_tasks(access_task.platform)  # still open: nothing was spent


def test_an_erase_attestation_takes_counts_for_its_collections(erase_task: Task) -> None:
    platform = erase_task.platform
    for bad, field in [
        (done(rows={"contacts": [ROW]}), "rows"),
        (done(counts={"orders": 1}), "counts.orders"),
        (Attestation("no_data", "Grace", counts={"contacts": 2}), "counts.contacts"),
        (done(counts={"contacts": -1}), "counts.contacts"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            tasks.attest(platform, erase_task.id, erase_task.token, bad)
        assert caught.value.field == field
    call = tasks.attest(platform, erase_task.id, erase_task.token, done(counts={"contacts": 1}))
    assert (call.operation, call.counts, call.actor) == ("erase", {"contacts": 1}, "Grace Hopper")


def test_a_services_call_is_not_a_task(access_task: Task) -> None:
    """A call without an assignee is answered by a signed callback, never by an attestation."""
    token = "service-token"
    with access_task.platform.uow() as uow:
        call = uow.calls.get(access_task.id)
        uow.calls.put(
            replace(call, assignee=None, token_hash=hashlib.sha256(token.encode()).hexdigest())
        )
        uow.commit()
    assert tasks.open_tasks(access_task.platform) == []
    with pytest.raises(Refused, match="not a task for a person"):
        tasks.attest(access_task.platform, access_task.id, token, done())
    assert access_task.events("task.refused")[-1]["reason"] == "not a task for a person"


# -- the API ------------------------------------------------------------------------------------


@pytest.fixture
def api_task(tmp_path: Path) -> Iterator[tuple[Any, Task, RecordingStarter]]:
    with api_harness(tmp_path) as harness:
        platform = crm_platform(harness.platform)
        harness.app.state.deps = replace(harness.app.state.deps, platform=platform)
        yield (
            harness.client,
            open_task(platform, harness.store, "access", "access"),
            harness.starter,
        )


def test_api_lists_tasks_with_the_admin_token_and_no_identities(api_task: Any) -> None:
    client, task, _ = api_task
    listed = client.get(URL)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert (item["id"], item["system"], item["status"], item["assignee"]) == (
        task.id, "crm", "pending", OWNER
    )  # fmt: skip
    assert EMAIL not in listed.text
    assert client.get(URL, params={"assignee": "other@x.example"}).json() == {"items": []}
    assert client.get(URL, headers={"Authorization": f"Bearer {task.token}"}).status_code == 401


def test_api_task_view_takes_the_task_token_not_the_admin_token(api_task: Any) -> None:
    client, task, _ = api_task
    assert client.get(f"{URL}/{task.id}").status_code == 401  # the admin token opens no task
    shown = client.get(f"{URL}/{task.id}", headers={"Authorization": f"Bearer {task.token}"})
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    body = shown.json()
    assert (body["identities"], body["instructions"]) == ({"email": EMAIL}, INSTRUCTIONS)
    assert body["collections"][0]["name"] == "contacts"


def test_api_attestation_is_checked_signalled_and_taken_once(api_task: Any) -> None:
    client, task, starter = api_task
    url, auth = f"{URL}/{task.id}/attestation", {"Authorization": f"Bearer {task.token}"}
    # No token: 401 before the body is even read (a bad body would otherwise be a 422).
    assert client.post(url, json={"outcome": "?"}, headers={"Authorization": ""}).status_code == 401
    bad = client.post(url, headers=auth, json={
        "outcome": "done", "attested_by": "Grace", "rows": {"contacts": [{"phone": "1"}]}
    })  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "rows.contacts.0.phone"
    assert client.post(url, headers=auth, json={"outcome": "done"}).status_code == 422
    ok = client.post(url, headers=auth, json={
        "outcome": "done", "attested_by": "Grace", "rows": {"contacts": [ROW]}
    })  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert {k: ok.json()[k] for k in ("status", "outcome", "attested_by", "counts")} == {
        "status": "answered", "outcome": "done", "attested_by": "Grace", "counts": {"contacts": 1}
    }  # fmt: skip
    assert starter.answers == [(task.request_id, "crm", "access")]
    again = client.post(url, headers=auth, json={"outcome": "no_data", "attested_by": "Grace"})
    assert again.status_code == 401
    assert again.json()["type"] == "https://rightsflow.dev/problems/refused"
    assert task.events("task.refused")[-1]["reason"] == "already answered (replayed)"
    assert starter.answers == [(task.request_id, "crm", "access")]


def test_api_documents_the_task_routes(api_task: Any) -> None:
    client, _, _ = api_task
    doc = client.get("/openapi.json").json()
    assert {
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/attestation",
    } <= set(doc["paths"])
    attest = doc["paths"]["/api/v1/tasks/{task_id}/attestation"]["post"]
    assert attest["security"] == [{"taskToken": []}]
    assert doc["paths"]["/api/v1/tasks"]["get"]["security"] == [{"bearer": []}]
    assert {"401", "422"} <= set(attest["responses"])


def test_a_call_record_without_token_cannot_be_opened() -> None:
    platform, store = make_platform()
    platform = crm_platform(platform)
    call = SystemCallRecord(
        id=str(uuid.uuid4()), request_id="r", system="crm", operation="access", status="pending",
        issued_at=platform.clock(), due_at=platform.clock(), assignee=OWNER,
    )  # fmt: skip
    store.state.calls[call.id] = call
    with pytest.raises(Refused):
        tasks.check_token(platform, call.id, "")


async def test_canceling_the_request_withdraws_its_open_task(erase_task: Task) -> None:
    await cancel(erase_task.platform, RecordingStarter(), erase_task.request_id, actor="ops")
    assert tasks.open_tasks(erase_task.platform) == []
    with pytest.raises(Refused):
        tasks.attest(erase_task.platform, erase_task.id, erase_task.token, done())
    assert [e["reason"] for e in erase_task.events("task.refused")] == [
        "no longer waiting (canceled)"
    ]


async def test_a_retry_after_a_failed_recheck_keeps_what_a_person_attested(
    erase_task: Task,
) -> None:
    platform, rid = erase_task.platform, erase_task.request_id
    tasks.attest(platform, erase_task.id, erase_task.token, done(counts={"contacts": 1}))
    with platform.uow() as uow:  # the request then failed elsewhere, after its re-check ran
        uow.results.put(NodeResult(rid, "crm:contacts", "recheck"))
        request = uow.requests.get(rid)
        audit.transition(uow, request, RequestStatus.FAILED, platform.clock(), reason="other")
        uow.commit()
    await retry(platform, RecordingStarter(), rid, actor="ops")
    with platform.uow() as uow:
        erased = uow.results.get(rid, "crm:contacts", "erase")
    assert erased is not None
    assert erased.rows_changed == 1
