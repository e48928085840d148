"""The deadline's durable timers on Temporal's time-skipping test server: weeks pass in
milliseconds, and the reminders, escalation and expiry land exactly when the regime says."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from rightsflow.bootstrap import build_runtime, step_policy
from rightsflow.config import Settings
from rightsflow.domain.records import AuditEvent
from rightsflow.services.platform import Platform
from rightsflow.services.requests import NewRequest, audit_trail, detail, submit_and_start
from rightsflow.storage.outbox import FileOutbox
from rightsflow.workflows.devserver import temporal_test_server_path
from rightsflow.workflows.starter import TemporalStarter
from rightsflow.workflows.worker import build_worker
from tests.support.stack import FAST_STEPS, make_shop

pytestmark = pytest.mark.temporal
EMAIL = "customer0000002@shop.example"
OPERATORS = "privacy-ops@localhost"
CLOSE = timedelta(seconds=5)  # timers fire at their instant; allow for the step's own time


@dataclass
class Timed:
    env: WorkflowEnvironment
    platform: Platform
    starter: TemporalStarter
    outbox: Path

    async def submit(self, new: NewRequest) -> str:
        request, _ = await submit_and_start(self.platform, self.starter, new)
        return request.id

    async def skip_to(self, when: datetime) -> None:
        await self.env.sleep(when - await self.env.get_current_time())

    def events(self, request_id: str, action: str) -> list[AuditEvent]:
        return [e for e in audit_trail(self.platform, request_id) if e.action == action]

    def operator_subjects(self) -> list[str]:
        return [m["Subject"] for m in FileOutbox(self.outbox).messages() if m["To"] == OPERATORS]


@asynccontextmanager
async def timed_stack(tmp_path: Path, start: datetime | None = None) -> AsyncIterator[Timed]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server_path())
    )
    try:
        if start is not None:
            await env.sleep(start - await env.get_current_time())
        now = await env.get_current_time()
        _, mapdir = make_shop(tmp_path, customers=5)
        settings = Settings(
            data_dir=tmp_path / "data", datamap_dir=mapdir, task_queue="deadlines",
            **{k: v for k, v in FAST_STEPS.items() if k != "auto_approve"},  # type: ignore[arg-type]
        )  # fmt: skip
        runtime = build_runtime(settings)
        # Requests are received at the test server's time, which the timers then follow.
        platform = dataclasses.replace(runtime.platform, clock=lambda: now)
        starter = TemporalStarter(env.client, settings.task_queue, step_policy(settings))
        try:
            async with build_worker(env.client, platform, settings.task_queue):
                yield Timed(env, platform, starter, settings.outbox_dir)
        finally:
            runtime.close()
    finally:
        await env.shutdown()


def _near(event: AuditEvent, when: datetime) -> bool:
    return abs(event.at - when) <= CLOSE


async def test_a_ccpa_request_is_reminded_before_45_days_and_escalated_after(
    tmp_path: Path,
) -> None:
    async with timed_stack(tmp_path) as timed:
        # A verified erasure waits for an operator who never comes: the clock keeps running.
        rid = await timed.submit(NewRequest("erasure", {"email": EMAIL}, "ccpa", verified=True))
        due = detail(timed.platform, rid).request.due_at
        assert timedelta(days=45) <= due - detail(timed.platform, rid).request.received_at
        await timed.skip_to(due - timedelta(days=7, hours=1))
        assert timed.events(rid, "deadline.reminder") == []
        await timed.skip_to(due + timedelta(hours=1))
        reminders = timed.events(rid, "deadline.reminder")
        assert [r.detail["kind"].split("@")[0] for r in reminders] == ["due-in-7d", "due-in-1d"]
        assert _near(reminders[0], due - timedelta(days=7))
        assert _near(reminders[1], due - timedelta(days=1))
        (overdue,) = timed.events(rid, "deadline.overdue")
        assert _near(overdue, due)
        assert detail(timed.platform, rid).request.status.value == "awaiting_approval"
        assert timed.operator_subjects() == [
            "[rightsflow] Request awaiting approval",
            "[rightsflow] Request due in 7 day(s)",
            "[rightsflow] Request due in 1 day(s)",
            "[rightsflow] Request OVERDUE",
        ]
        await timed.skip_to(due + timedelta(days=10))
        assert len(timed.events(rid, "deadline.overdue")) == 1  # escalated once, not again


async def test_a_gdpr_deadline_across_the_end_of_february(tmp_path: Path) -> None:
    start = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    async with timed_stack(tmp_path, start) as timed:
        rid = await timed.submit(NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True))
        due = detail(timed.platform, rid).request.due_at
        # 31 January + one month is 28 February 2027, a Sunday: the deadline rolls to the end
        # of Monday 1 March (Irish time, UTC in winter).
        assert due == datetime(2027, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
        await timed.skip_to(due + timedelta(minutes=5))
        (overdue,) = timed.events(rid, "deadline.overdue")
        assert _near(overdue, due)
        reminders = timed.events(rid, "deadline.reminder")
        assert [_near(r, w) for r, w in zip(reminders, [due - timedelta(days=7),
                due - timedelta(days=1)], strict=True)] == [True, True]  # fmt: skip


async def test_an_unverified_request_expires_and_the_subject_is_told(tmp_path: Path) -> None:
    async with timed_stack(tmp_path) as timed:
        rid = await timed.submit(NewRequest("access", {"email": EMAIL}, "gdpr"))
        request = detail(timed.platform, rid).request
        assert request.status.value == "awaiting_verification"
        assert request.verify_by is not None
        # The clock is paused while GDPR waits for proof of identity: no reminders meanwhile.
        await timed.skip_to(request.verify_by + timedelta(minutes=1))
        closed = detail(timed.platform, rid).request
        assert (closed.status.value, closed.failure_reason) == ("expired", None)
        assert timed.events(rid, "deadline.reminder") == []
        to_subject = [m["Subject"] for m in FileOutbox(timed.outbox).messages() if m["To"] == EMAIL]
        assert to_subject[-1] == "Your request was closed (access request)"
        (change,) = [e for e in audit_trail(timed.platform, rid) if e.to_status == "expired"]
        assert change.detail["reason"] == "identity not verified in time"
        handle = timed.env.client.get_workflow_handle(f"privacy-request-{rid}")
        assert await handle.result() == "expired"
