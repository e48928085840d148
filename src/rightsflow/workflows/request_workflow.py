"""One durable workflow per privacy request, for its whole life: it waits while the request
awaits verification or a decision, runs it once approved (plan, read wave by wave, erase
children before parents and re-check, or build the package; then complete or fail with a
reason), waits again after a failure for a retry, and keeps the deadline's timers all along:
reminders before the due date, an escalation when overdue, expiry of an unverified request.

Systems that answer for themselves (internal services, people) are asked once per operation;
a late answer arrives as a signal while the workflow waits on a durable timer, reminding as it
goes. A system that fails or does not answer in time is given up on, the operators are told,
and the rest of the request still completes (then fails naming that system)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from rightsflow.services.deadlines import Tick
    from rightsflow.services.execution import RequestState
    from rightsflow.workflows.contracts import (
        ANSWERED_SIGNAL,
        CHANGED_SIGNAL,
        DECISION_TYPES,
        READ_ONLY_TYPES,
        WORKFLOW_NAME,
        Answered,
        CallState,
        DeadlineTick,
        Finish,
        NodeStep,
        Outline,
        RowsStep,
        RunRequest,
        StepPolicy,
        SystemStep,
    )


# The workflow ends here; a failed request is woken again by a retry (signal-with-start).
CLOSED = ("completed", "failed", "denied", "canceled", "expired", "inactive")
RETRY_TICK = timedelta(hours=1)  # if the clock step keeps failing, look again this much later
FEWER_ROUND_TRIPS = "rows-in-one-activity-local-bookkeeping"
# Short steps on our own database only: run as local activities, inside the workflow task,
# without a round trip through the Temporal server each.
LOCAL_STEPS = frozenset({"lifecycle_status", "deadline_tick", "begin", "finish"})
LOCAL_TIMEOUT_S = 60.0


@workflow.defn(name=WORKFLOW_NAME)
class PrivacyRequestWorkflow:
    def __init__(self) -> None:
        self._answered: set[tuple[str, str]] = set()
        self._done: set[tuple[str, str]] = set()
        self._failures: list[str] = []
        self._changed = False  # for the main loop: look at the request's state again
        self._rearm = False  # for the deadline watcher: the deadline may have moved
        self._closed = False

    @workflow.signal(name=ANSWERED_SIGNAL)
    def answered(self, note: Answered) -> None:
        self._answered.add((note.system, note.operation))

    @workflow.signal(name=CHANGED_SIGNAL)
    def changed(self) -> None:
        self._changed = self._rearm = True

    @workflow.run
    async def run(self, params: RunRequest) -> str:
        self._steps = params.steps
        # Histories written before this change replay the old way (one activity per node,
        # bookkeeping as ordinary activities).
        self._fast = workflow.patched(FEWER_ROUND_TRIPS)
        rid = params.request_id
        watcher = asyncio.ensure_future(self._watch_deadline(rid))
        try:
            return await self._follow(rid)
        finally:
            self._closed = True
            watcher.cancel()

    async def _follow(self, rid: str) -> str:
        """Run the request whenever it is cleared to run; otherwise wait for a change."""
        told = ""
        while True:
            self._changed = False
            state: RequestState = await self._step(
                "lifecycle_status", rid, result_type=RequestState
            )
            status = state.status
            if state.from_agent and status != told:
                told = status
                await self._tell_agent(rid)
            if status in CLOSED:
                return status
            if status in ("received", "executing"):
                if await self._execute(rid) == "inactive":
                    return "inactive"
                continue
            # awaiting verification or approval, or failed: the API signals what comes next
            await workflow.wait_condition(lambda: self._changed)

    async def _tell_agent(self, rid: str) -> None:
        """Send the agent a DRP status callback; an agent that cannot be reached is not the
        request's problem (the next change sends the then-current status)."""
        with contextlib.suppress(ActivityError):
            await self._step("tell_agent", rid)

    async def _watch_deadline(self, rid: str) -> None:
        while not self._closed:
            self._rearm = False
            try:
                tick: Tick = await self._step(
                    "deadline_tick", DeadlineTick(rid, workflow.now().isoformat()), result_type=Tick
                )
            except ActivityError:
                tick = Tick(closed=False, next_at=(workflow.now() + RETRY_TICK).isoformat())
            if tick.closed:
                self._changed = True  # e.g. expired: the main loop sees it
                return
            timeout = None
            if tick.next_at is not None:
                left = datetime.fromisoformat(tick.next_at) - workflow.now()
                timeout = max(left, timedelta(seconds=1))
            with contextlib.suppress(TimeoutError):  # the timer fired: tick again
                await workflow.wait_condition(lambda: self._rearm or self._closed, timeout=timeout)

    async def _execute(self, rid: str) -> str:
        self._answered, self._done, self._failures = set(), set(), []
        try:
            outline: Outline = await self._step("begin", rid, result_type=Outline)
            if not outline.active:
                return "inactive"
            if outline.request_type in DECISION_TYPES:
                return await self._finish(rid, [])
            if self._fast and not any(outline.asked) and not outline.erasing:
                return await self._finish(rid, await self._run_rows(rid, outline))
            for i, wave in enumerate(outline.waves):
                asked = outline.asked[i] if i < len(outline.asked) else []
                await asyncio.gather(
                    self._each("retrieve", rid, wave),
                    *(self._ask(rid, system, "access") for system in asked),
                )
            if outline.request_type in READ_ONLY_TYPES:
                await self._step("build_package", rid)
                return await self._finish(rid, [])
            await asyncio.gather(
                self._erase_rows(rid, outline.erase_groups),
                *(self._ask(rid, system, "erase") for system in outline.erasing),
            )
            await asyncio.gather(
                *(
                    self._ask(rid, system, "recheck")
                    for system in outline.rechecking
                    if (system, "erase") in self._done
                )
            )
            problems: list[str] = await self._step("recheck", rid, result_type=list[str])
            return await self._finish(rid, problems)
        except ActivityError as err:
            return await self._finish(rid, [failed_step_reason(err)])

    async def _run_rows(self, rid: str, outline: Outline) -> list[str]:
        steps: StepPolicy = self._steps
        count = len(outline.waves) + len(outline.erase_groups) + 2
        problems: list[str] = await workflow.execute_activity(
            "run_rows",
            RowsStep(
                rid,
                outline.waves,
                outline.erase_groups,
                outline.request_type in READ_ONLY_TYPES,
            ),
            result_type=list[str],
            # Each node may take the step timeout; a stuck one is noticed by its heartbeat.
            start_to_close_timeout=timedelta(seconds=steps.timeout_s * count),
            heartbeat_timeout=timedelta(seconds=steps.timeout_s),
            retry_policy=self._retry(),
        )
        return problems

    async def _erase_rows(self, rid: str, groups: list[list[str]]) -> None:
        for group in groups:
            await self._each("erase", rid, group)

    async def _each(self, name: str, rid: str, addresses: list[str]) -> None:
        await asyncio.gather(*(self._step(name, NodeStep(rid, a)) for a in addresses))

    async def _ask(self, rid: str, system: str, operation: str) -> None:
        """Ask one system, wait for its answer if it comes later, and record how it went.
        Never raises for the system's sake: its failure is noted and the request goes on."""
        step = SystemStep(rid, system, operation)
        try:
            state: CallState = await self._step("ask_system", step, result_type=CallState)
        except ActivityError as err:
            await self._give_up(step, failed_step_reason(err))
            return
        overdue = state.status == "pending" and not await self._wait_for_answer(step, state)
        if overdue and await self._give_up(step, "overdue"):
            return
        problem: str = await self._step("call_outcome", step, result_type=str)
        if problem:
            self._failures.append(problem)
        else:
            self._done.add((system, operation))

    async def _wait_for_answer(self, step: SystemStep, state: CallState) -> bool:
        key = (step.system, step.operation)
        deadline = workflow.now() + timedelta(seconds=state.answer_within_s)
        while True:
            left = (deadline - workflow.now()).total_seconds()
            if left <= 0:
                return key in self._answered
            try:
                await workflow.wait_condition(
                    lambda: key in self._answered,
                    timeout=timedelta(seconds=min(left, state.remind_every_s)),
                )
            except TimeoutError:
                if workflow.now() >= deadline:
                    return False
                # The remind step also notices an answer whose signal was lost.
                if await self._step("remind", step, result_type=str) == "answered":
                    return True
            else:
                return True

    async def _give_up(self, step: SystemStep, why: str) -> bool:
        """True when the system is given up on; False if it had answered after all."""
        given = SystemStep(step.request_id, step.system, step.operation, why)
        reason: str = await self._step("give_up", given, result_type=str)
        if reason:
            self._failures.append(reason)
        return bool(reason)

    async def _finish(self, rid: str, problems: list[str]) -> str:
        failure = "; ".join([*self._failures, *problems]) or None
        status: str = await self._step("finish", Finish(rid, failure), result_type=str)
        return status

    async def _step(self, name: str, arg: Any, result_type: type | None = None) -> Any:
        steps: StepPolicy = self._steps
        if self._fast and name in LOCAL_STEPS:
            return await workflow.execute_local_activity(
                name,
                arg,
                result_type=result_type,
                start_to_close_timeout=timedelta(seconds=min(steps.timeout_s, LOCAL_TIMEOUT_S)),
                retry_policy=self._retry(),
            )
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=steps.timeout_s),
            retry_policy=self._retry(),
        )

    def _retry(self) -> RetryPolicy:
        return step_retry_policy(self._steps)


def step_retry_policy(steps: StepPolicy) -> RetryPolicy:
    """The activities' retry policy (settings step_*); errors marked by `activities.guard`."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=steps.initial_interval_s),
        maximum_interval=timedelta(seconds=steps.max_interval_s),
        maximum_attempts=steps.max_attempts,
        non_retryable_error_types=["NonRetryable"],
    )


def failed_step_reason(err: ActivityError) -> str:
    """The failing step's own message (written without personal data by the activities)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message
    return f"step failed ({type(cause).__name__ if cause else 'unknown'})"
