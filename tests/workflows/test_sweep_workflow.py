"""Retention sweeps on Temporal's dev server: schedules follow the data map's rules, and the
workflow a schedule starts completes a run through a real worker, chunk by chunk."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.service import RPCError

from rightsflow.services import sweeps
from rightsflow.services.sweep_plan import rule_for
from rightsflow.workflows.devserver import DevServer
from rightsflow.workflows.sweep_workflow import (
    SWEEP_WORKFLOW,
    SweepInput,
    TemporalSweepLauncher,
    ensure_sweep_schedules,
    schedule_id,
)
from rightsflow.workflows.worker import build_worker
from tests.support.sweep_stack import create_logins, old_ids, read_logins, rules, sweep_stack

pytestmark = pytest.mark.temporal


async def test_schedules_follow_the_rules(temporal_client: Client, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    create_logins(url, 2, 2)
    stack = sweep_stack(tmp_path, url, rules())
    queue = f"tq-sweep-{uuid.uuid4().hex[:8]}"
    try:
        [rule] = stack.runtime.platform.datamap.retention
        assert await ensure_sweep_schedules(temporal_client, queue, (rule,)) == [
            schedule_id("old_logins", queue)
        ]
        await ensure_sweep_schedules(temporal_client, queue, (rule,))  # again: updated
        described = await temporal_client.get_schedule_handle(
            schedule_id(rule.key, queue)
        ).describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == (SWEEP_WORKFLOW, queue)
        [raw] = action.args
        converter = temporal_client.data_converter.payload_converter
        assert converter.from_payload(raw, SweepInput) == SweepInput("old_logins")
        [calendar] = described.schedule.spec.calendars  # the server keeps cron as calendars
        assert (calendar.hour[0].start, calendar.minute[0].start) == (3, 0)
        assert await ensure_sweep_schedules(temporal_client, queue, ()) == []  # rule removed
        # The schedule is gone (asked directly: listing schedules is eventually consistent).
        with pytest.raises(RPCError, match="not found"):
            await temporal_client.get_schedule_handle(schedule_id(rule.key, queue)).describe()
    finally:
        stack.close()


async def test_a_triggered_schedule_completes_a_run(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    create_logins(url, 23, 30)
    old, before = old_ids(url), read_logins(url)
    stack = sweep_stack(
        tmp_path,
        url,
        rules(),
        temporal_address=temporal_server.address,
        task_queue=f"tq-sweep-{uuid.uuid4().hex[:8]}",
    )
    queue = stack.runtime.settings.task_queue
    try:
        async with build_worker(temporal_client, stack.runtime.platform, queue):
            [sid] = await ensure_sweep_schedules(
                temporal_client, queue, stack.runtime.platform.datamap.retention
            )
            handle = temporal_client.get_schedule_handle(sid)
            try:
                await handle.trigger()
                for _ in range(300):
                    done = [r for r in sweeps.runs(stack.sweeps) if r.status != "running"]
                    if done:
                        break
                    await asyncio.sleep(0.1)
                [run] = done
            finally:
                await handle.delete()
            assert (run.status, run.actor, run.dry_run) == ("completed", "schedule", False)
            assert run.collection("logs:login_events").deleted == len(old) == 23
            assert set(read_logins(url)) == set(before) - old

            # "Run now" from the API's side: recorded first, then carried out by the engine.
            create_logins(url, 5, 5)
            rule = rule_for(stack.runtime.platform, "old_logins")
            launcher = TemporalSweepLauncher(temporal_client, queue)
            started = await sweeps.start(stack.sweeps, launcher, rule, "user:test")
            assert started.collection("logs:login_events").matched == 5
            result = await temporal_client.get_workflow_handle(
                f"rightsflow-sweep-{started.id}"
            ).result()
            assert result == started.id
            finished = sweeps.get(stack.sweeps, started.id)
            assert (finished.status, finished.totals["deleted"]) == ("completed", 5)
    finally:
        stack.close()
