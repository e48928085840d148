"""The daily retention purge on Temporal's dev server: the schedule is ensured idempotently
(and follows a changed retention_days), the workflow purges in bounded steps, and a triggered
schedule run purges through a real worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.services import retention
from rightsflow.workflows.devserver import DevServer
from rightsflow.workflows.retention_workflow import (
    RETENTION_WORKFLOW,
    PurgeRun,
    ensure_retention_schedule,
    schedule_id,
)
from rightsflow.workflows.worker import build_worker
from tests.support.retention import request_row, seed
from tests.support.stack import make_shop

pytestmark = pytest.mark.temporal
DAYS = 730


@asynccontextmanager
async def worker_on(tmp_path: Path, server: DevServer, client: Client) -> AsyncIterator[Runtime]:
    _, mapdir = make_shop(tmp_path, customers=5)
    settings = Settings(
        data_dir=tmp_path / "data",
        datamap_dir=mapdir,
        temporal_address=server.address,
        task_queue=f"tq-retention-{uuid.uuid4().hex[:8]}",
    )
    runtime = build_runtime(settings)
    try:
        async with build_worker(client, runtime.platform, settings.task_queue):
            yield runtime
    finally:
        runtime.close()


def purged(runtime: Runtime, request_id: str) -> bool:
    return request_row(runtime, request_id)["sealed_identities"] == b""


async def test_schedule_is_ensured_idempotently_and_follows_the_setting(
    temporal_client: Client,
) -> None:
    queue = f"tq-schedule-{uuid.uuid4().hex[:8]}"
    sid = await ensure_retention_schedule(temporal_client, queue, DAYS)
    again = await ensure_retention_schedule(temporal_client, queue, DAYS)
    assert sid == again == schedule_id(queue)
    await ensure_retention_schedule(temporal_client, queue, 400)

    handle = temporal_client.get_schedule_handle(sid)
    described = await handle.describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (RETENTION_WORKFLOW, queue)
    [raw] = action.args  # described schedules hold the encoded payloads
    converter = temporal_client.data_converter.payload_converter
    assert converter.from_payload(raw, PurgeRun) == PurgeRun(400)
    [calendar] = described.schedule.spec.calendars
    assert (calendar.hour[0].start, calendar.minute[0].start) == (3, 17)
    await handle.delete()


async def test_workflow_purges_in_steps_until_done(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with worker_on(tmp_path, temporal_server, temporal_client) as runtime:
        old = [seed(runtime, DAYS + 10 + i) for i in range(3)]
        recent = seed(runtime, 5)
        result = await temporal_client.execute_workflow(
            RETENTION_WORKFLOW,
            PurgeRun(DAYS, batch_size=1, max_batches=1),  # one request per step: three steps
            id=f"retention-{uuid.uuid4()}",
            task_queue=runtime.settings.task_queue,
            result_type=int,
        )
        assert result == 3
        assert all(purged(runtime, r.id) for r in old)
        assert not purged(runtime, recent.id)


async def test_a_triggered_schedule_run_purges(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with worker_on(tmp_path, temporal_server, temporal_client) as runtime:
        old = seed(runtime, DAYS + 1)
        queue = runtime.settings.task_queue
        sid = await ensure_retention_schedule(temporal_client, queue, DAYS)
        handle = temporal_client.get_schedule_handle(sid)
        try:
            await handle.trigger()
            for _ in range(200):
                if purged(runtime, old.id):
                    break
                await asyncio.sleep(0.1)
            assert purged(runtime, old.id)
            with runtime.platform.uow() as uow:
                actions = [e.action for e in uow.audit.for_request(old.id)]
            assert actions.count(retention.PURGED) == 1
        finally:
            await handle.delete()
