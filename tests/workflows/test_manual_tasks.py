"""Manual tasks through the real workflow, worker and Temporal dev server: the request waits
for the owner's attestation durably, reminds, and gives up on time without holding up the rest.

The shop's SQL collections sit next to a "crm" system only a person can handle (tests/support/
manual_tasks.py). Tasks are found the way their owner finds them: in the outbox."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.client import Client

from rightsflow.config import Settings
from rightsflow.domain.requests import RequestStatus
from rightsflow.services import package, receipt, requests, tasks
from rightsflow.services.platform import Platform
from rightsflow.services.requests import NewRequest, detail, submit_and_start
from rightsflow.services.tasks import Attestation
from rightsflow.storage.outbox import FileOutbox
from rightsflow.workflows.devserver import DevServer
from tests.support.manual_tasks import OWNER, add_manual_system, task_link
from tests.support.stack import Stack, make_shop, rows, running_stack, stack_settings

pytestmark = pytest.mark.temporal
EMAIL = "customer0000007@shop.example"
GRACE = "Grace Hopper <grace@crm.example>"


def mail(settings: Settings, to: str, subject_has: str) -> list[EmailMessage]:
    return [
        m
        for m in FileOutbox(settings.outbox_dir).messages()
        if m["To"] == to and subject_has in str(m["Subject"])
    ]


async def task_for(settings: Settings, operation: str, seconds: float = 30) -> tuple[str, str]:
    """(task id, token) from the owner's notification, once it is sent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent = mail(settings, OWNER, f"Privacy task: {operation} in crm")
        if sent:
            return task_link(str(sent[-1].get_content()))
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {operation} task was sent to {OWNER}")


async def attest(stack: Stack, task: tuple[str, str], attestation: Attestation) -> None:
    """What POST /api/v1/tasks/{id}/attestation does."""
    call = tasks.attest(stack.runtime.platform, *task, attestation)
    await stack.starter.answered(call.request_id, call.system, call.operation)


async def sql_erased(platform: Platform, request_id: str, seconds: float = 30) -> None:
    """Until every shop collection the request erases has its erase result."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = detail(platform, request_id)
        erased = {r.address for r in state.results if r.phase == "erase" and r.status == "done"}
        if {"shop:customers", "shop:login_events"} <= erased:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the shop's collections were not erased")


def no_identity_in_outbox(settings: Settings) -> None:
    for message in settings.outbox_dir.glob("*.eml"):
        assert EMAIL.encode() not in message.read_bytes().lower()


async def test_erasure_waits_for_the_owner_and_the_receipt_says_who_attested(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    add_manual_system(mapdir)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        platform = stack.runtime.platform
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(platform, stack.starter, new)
        # An erasure first asks what the system holds (for the receipt), then to erase it.
        found = [{"id": 41, "email": EMAIL, "name": "Seven"}]
        await attest(stack, await task_for(settings, "access"), Attestation(
            "done", GRACE, rows={"contacts": found}
        ))  # fmt: skip
        erase_task = await task_for(settings, "erase")
        await sql_erased(platform, request.id)
        assert detail(platform, request.id).request.status is RequestStatus.EXECUTING
        await attest(stack, erase_task, Attestation("done", GRACE, counts={"contacts": 1}))
        assert await stack.wait(request.id) == "completed"
        proof = receipt.build(platform, request.id)
    assert rows(db, "select count(*) from login_events where customer_email = ?", EMAIL) == [(0,)]
    crm = next(line for line in proof.lines if line.collection == "crm:contacts")
    assert (crm.rows_found, crm.rows_masked) == (1, 1)
    assert crm.recheck == f"attested done by {GRACE}"
    asked = {s.operation: s for s in proof.systems if s.system == "crm"}
    assert {op: (s.status, s.answered_by, s.outcome) for op, s in asked.items()} == {
        "access": ("answered", GRACE, "done"),
        "erase": ("answered", GRACE, "done"),
    }
    assert asked["erase"].answered_at is not None
    assert asked["erase"].asked_at <= asked["erase"].answered_at <= asked["erase"].due_at
    assert proof.verified
    no_identity_in_outbox(settings)


async def test_access_package_holds_the_rows_the_owner_returned(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    _db, mapdir = make_shop(tmp_path)
    add_manual_system(mapdir)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    returned = [
        {"id": 41, "email": EMAIL, "name": "Seven", "notes": "prefers phone"},
        {"id": 42, "email": EMAIL, "name": "Seven (old account)", "notes": None},
    ]
    async with running_stack(settings, temporal_client) as stack:
        platform = stack.runtime.platform
        new = NewRequest("access", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(platform, stack.starter, new)
        task_id, token = await task_for(settings, "access")
        view = tasks.task_view(platform, task_id, token)
        assert view.identities == {"email": EMAIL}
        await attest(stack, (task_id, token), Attestation(
            "done", GRACE, rows={"contacts": returned}
        ))  # fmt: skip
        assert await stack.wait(request.id) == "completed"
        archive = package.download(platform, request.id, actor="test")
    data = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("data.json"))
    # The package holds the targeted (user.*) fields: the CRM's own ids stay out.
    expected = [{k: v for k, v in r.items() if k != "id"} for r in returned]
    assert sorted(data["crm:contacts"], key=lambda r: r["name"]) == expected
    assert data["shop:customers"][0]["email"] == EMAIL
    no_identity_in_outbox(settings)


async def test_nobody_answers_the_request_fails_naming_the_system_and_a_late_answer_counts(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    add_manual_system(mapdir, answer_within_s=2.5, remind_every_s=1)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    (customer_id,) = rows(db, "select id from customers where email = ?", EMAIL)[0]
    async with running_stack(settings, temporal_client) as stack:
        platform = stack.runtime.platform
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(platform, stack.starter, new)
        assert await stack.wait(request.id) == "failed"
        failed = detail(platform, request.id).request
        assert failed.failure_reason is not None
        assert "crm: no answer to access by" in failed.failure_reason
        assert "crm: no answer to erase by" in failed.failure_reason
        # The rest of the request went on: the shop's rows are erased.
        assert rows(db, "select email, name from customers where id = ?", customer_id) == [
            (None, "MASKED")
        ]
        assert mail(settings, OWNER, "Reminder: privacy request waits for crm")
        told = mail(settings, settings.operators_email, f"Privacy request {request.id}: crm")
        assert {str(m["Subject"]).rsplit(" ", 1)[-1] for m in told} == {"overdue"}
        assert len(told) == 2  # access, then erase
        assert {t.status for t in tasks.open_tasks(platform)} == {"overdue"}
        # The owner answers late: accepted, and a retry picks it up.
        await attest(stack, await task_for(settings, "access"), Attestation("no_data", GRACE))
        await attest(stack, await task_for(settings, "erase"), Attestation("no_data", GRACE))
        assert tasks.open_tasks(platform) == []
        await requests.retry(platform, stack.starter, request.id, actor="test")
        assert await stack.wait(request.id) == "completed"
        proof = receipt.build(platform, request.id)
    crm = next(line for line in proof.lines if line.collection == "crm:contacts")
    assert crm.recheck == f"attested no_data by {GRACE}"
    assert proof.verified
    no_identity_in_outbox(settings)
