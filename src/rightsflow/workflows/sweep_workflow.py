"""Retention sweeps on Temporal: one schedule per `retention:` rule of the data map starts
`RetentionSweep`, which records a run, does it a chunk per activity, and finishes it.

Schedules are made, updated and deleted at start-up to match the data map
(`ensure_sweep_schedules`). A chunk cut short is run again: the run's report says where it
stood, and deletes and masks are guarded. The workflow continues as new after
`CHUNKS_PER_RUN` chunks to keep its history short. Inputs and results are ids and counts only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog

    from rightsflow.domain.errors import RightsflowError
    from rightsflow.domain.retention_rules import RetentionRule
    from rightsflow.services import sweeps
    from rightsflow.services.platform import Platform
    from rightsflow.services.sweep_plan import rule_for
    from rightsflow.storage.sweep_repository import sweep_transactions

SWEEP_WORKFLOW = "RetentionSweep"
BEGIN, CHUNK, FINISH = "sweep_begin", "sweep_chunk", "sweep_finish"
CHUNKS_PER_RUN = 200
SCHEDULE_PREFIX = "rightsflow-sweep-"
log = structlog.get_logger("rightsflow.retention")
T = TypeVar("T")


@dataclass(frozen=True)
class SweepInput:
    rule: str
    run_id: str | None = None  # None: the schedule started it; the first step records a run


@dataclass(frozen=True)
class Finish:
    run_id: str
    failure: str | None = None


def sweeps_for(platform: Platform) -> sweeps.Sweeps:
    """The sweep service on the platform's app database."""
    return sweeps.Sweeps(platform, sweep_transactions(platform.uow))


class SweepActivities:
    def __init__(self, platform: Platform) -> None:
        self._sweeps = sweeps_for(platform)

    def all(self) -> list[Any]:
        return [self.begin, self.chunk, self.finish]

    @activity.defn(name=BEGIN)
    async def begin(self, rule: str) -> str:
        def work() -> str:
            found = rule_for(self._sweeps.platform, rule)
            return sweeps.begin(self._sweeps, found, dry_run=False, actor="schedule").id

        return await asyncio.to_thread(_safely, work)

    @activity.defn(name=CHUNK)
    async def chunk(self, run_id: str) -> bool:
        """One chunk; whether any work is left."""

        def work() -> bool:
            return sweeps.chunk(self._sweeps, run_id).pending is not None

        return await asyncio.to_thread(_safely, work)

    @activity.defn(name=FINISH)
    async def finish(self, done: Finish) -> str:
        def work() -> str:
            return sweeps.finish(self._sweeps, done.run_id, done.failure).status

        return await asyncio.to_thread(_safely, work)


def _safely(work: Callable[[], T]) -> T:
    try:
        result = work()
    except RightsflowError as exc:  # our messages carry no data (connector failures included)
        retry = getattr(exc, "retryable", True)
        raise ApplicationError(str(exc), non_retryable=not retry) from None
    except Exception as exc:
        log.exception("retention_sweep_failed")  # an unknown error's text may carry data
        raise ApplicationError(f"retention sweep: {type(exc).__name__}") from None
    return result


_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
)


@workflow.defn(name=SWEEP_WORKFLOW)
class RetentionSweepWorkflow:
    @workflow.run
    async def run(self, given: SweepInput) -> str:
        """The run's id, once it is finished (completed or failed)."""
        run_id = given.run_id
        if run_id is None:
            run_id = await self._step(BEGIN, given.rule, str)
        try:
            for _ in range(CHUNKS_PER_RUN):
                if not await self._step(CHUNK, run_id, bool):
                    break
            else:  # still more after many chunks: a fresh run (short history) goes on
                workflow.continue_as_new(SweepInput(given.rule, run_id))
        except ActivityError as exc:
            reason = str(exc.cause) if exc.cause is not None else "a chunk failed"
            await self._step(FINISH, Finish(run_id, reason), str)
            return run_id
        await self._step(FINISH, Finish(run_id), str)
        return run_id

    async def _step(self, name: str, arg: object, result: type[T]) -> T:
        done: T = await workflow.execute_activity(
            name,
            arg,
            result_type=result,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=_RETRY,
        )
        return done


def sweep_schedule(rule: RetentionRule, task_queue: str) -> Schedule:
    """The rule's schedule (cron, UTC); a run still going when the next is due skips it."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SWEEP_WORKFLOW,
            SweepInput(rule.key),
            id=f"rightsflow-sweep-run-{rule.key}-{task_queue}",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[rule.cron]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


def schedule_id(rule_key: str, task_queue: str) -> str:
    return f"{SCHEDULE_PREFIX}{task_queue}-{rule_key}"


async def ensure_sweep_schedules(
    client: Client, task_queue: str, rules: tuple[RetentionRule, ...]
) -> list[str]:
    """One schedule per rule, created or brought up to date; schedules of rules no longer in
    the data map are deleted. Safe on every start, by any number of workers at once."""
    wanted = {schedule_id(rule.key, task_queue): rule for rule in rules}
    prefix = f"{SCHEDULE_PREFIX}{task_queue}-"
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix) and listed.id not in wanted:
            await client.get_schedule_handle(listed.id).delete()
    for sid, rule in wanted.items():
        schedule = sweep_schedule(rule, task_queue)
        try:
            await client.create_schedule(sid, schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(sid).update(replace)
    return sorted(wanted)


class TemporalSweepLauncher:
    """Starts the workflow of a run recorded by the API ("run now")."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def launch(self, rule_key: str, run_id: str) -> None:
        await self._client.start_workflow(
            SWEEP_WORKFLOW,
            SweepInput(rule_key, run_id),
            id=f"rightsflow-sweep-{run_id}",
            task_queue=self._task_queue,
        )
