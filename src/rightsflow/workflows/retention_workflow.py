"""The daily retention purge: a Temporal schedule starts `RetentionPurge`, which purges the
records of requests closed more than `retention_days` ago (services/retention.py) in bounded
activity steps until none are left.

Each step purges at most `max_batches` batches and says whether more are left, so a large
backlog (the first run after enabling retention) never needs one endless activity; the
workflow continues as new after `STEPS_PER_RUN` steps to keep its history short. A step cut
short is simply run again: the purge is idempotent. Inputs and results are counts only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog

    from rightsflow.services import retention
    from rightsflow.services.platform import Platform

RETENTION_WORKFLOW = "RetentionPurge"
PURGE_STEP = "retention_purge_step"
STEPS_PER_RUN = 100
log = structlog.get_logger("rightsflow.retention")


def schedule_id(task_queue: str) -> str:
    return f"rightsflow-retention-purge-{task_queue}"


@dataclass(frozen=True)
class PurgeRun:
    retention_days: int
    batch_size: int = retention.DEFAULT_BATCH
    max_batches: int = 25


@dataclass(frozen=True)
class PurgeStep:
    requests: int
    more: bool


class RetentionActivities:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def all(self) -> list[Any]:
        return [self.purge_step]

    @activity.defn(name=PURGE_STEP)
    async def purge_step(self, run: PurgeRun) -> PurgeStep:
        return await asyncio.to_thread(self._purge, run)

    def _purge(self, run: PurgeRun) -> PurgeStep:
        try:
            cutoff = retention.cutoff_for(self._platform.clock(), run.retention_days)
            report = retention.purge(
                self._platform, cutoff, batch_size=run.batch_size, max_batches=run.max_batches
            )
        except Exception as exc:
            # The text of an unknown error may carry data: keep only its type.
            log.exception("retention_purge_failed")
            raise ApplicationError(f"retention purge: {type(exc).__name__}") from None
        log.info("retention_purged", requests=report.requests, more=report.more)
        return PurgeStep(report.requests, report.more)


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionPurgeWorkflow:
    @workflow.run
    async def run(self, run: PurgeRun) -> int:
        """Purge until nothing eligible is left; the number of requests purged by this run."""
        purged = 0
        for _ in range(STEPS_PER_RUN):
            step: PurgeStep = await workflow.execute_activity(
                PURGE_STEP,
                run,
                result_type=PurgeStep,
                start_to_close_timeout=timedelta(minutes=30),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=10),
                    maximum_interval=timedelta(minutes=10),
                    maximum_attempts=10,
                ),
            )
            purged += step.requests
            if not step.more:
                break
        else:  # still more after many steps: a fresh run (short history) goes on
            workflow.continue_as_new(run)
        return purged


def retention_schedule(task_queue: str, retention_days: int) -> Schedule:
    """Every day at 03:17 UTC; a run still going when the next is due makes that one skip."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_WORKFLOW,
            PurgeRun(retention_days),
            id=f"rightsflow-retention-purge-run-{task_queue}",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(3)], minute=[ScheduleRange(17)])]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


async def ensure_retention_schedule(client: Client, task_queue: str, retention_days: int) -> str:
    """Create the daily purge schedule, or bring an existing one up to date (e.g. a changed
    retention_days). Safe to call on every worker start, by any number of workers at once."""
    sid = schedule_id(task_queue)
    schedule = retention_schedule(task_queue, retention_days)
    try:
        await client.create_schedule(sid, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(sid).update(replace)
    return sid
