"""Activities: the only place workflows touch I/O. Each runs a service step in a thread and
turns domain errors into Temporal failures whose message is safe to keep in history."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from rightsflow.domain.errors import ConnectorFailure, RightsflowError
from rightsflow.domain.requests import RequestType
from rightsflow.services import (
    coalesced_reads,
    coalesced_rechecks,
    coalesced_writes,
    consent_requests,
    deadlines,
    execution,
    package,
    system_calls,
    write_steps,
)
from rightsflow.services.coalesced_reads import Step
from rightsflow.services.deadlines import Tick
from rightsflow.services.execution import RequestState
from rightsflow.services.platform import Platform
from rightsflow.workflows.coalescer import Coalescer
from rightsflow.workflows.contracts import (
    CallState,
    DeadlineTick,
    Finish,
    NodeStep,
    Outline,
    RowsStep,
    SystemStep,
    Tuning,
)

T = TypeVar("T")
log = structlog.get_logger("rightsflow.activities")


async def _run(call: Callable[[], T], what: str, request_id: str) -> T:
    return await guard(asyncio.to_thread(call), what, request_id)


async def guard(work: Awaitable[T], what: str, request_id: str) -> T:
    try:
        return await work
    except ConnectorFailure as exc:
        log.warning("step_failed", step=what, request_id=request_id, retryable=exc.retryable)
        kind = "Retryable" if exc.retryable else "NonRetryable"
        raise ApplicationError(str(exc), type=kind, non_retryable=not exc.retryable) from None
    except RightsflowError as exc:
        log.warning("step_refused", step=what, request_id=request_id, code=exc.code)
        raise ApplicationError(str(exc), type="NonRetryable", non_retryable=True) from None
    except Exception as exc:
        # Unknown errors may carry data in their text: keep only the type.
        log.exception("step_crashed", step=what, request_id=request_id)
        raise ApplicationError(f"{what}: internal error ({type(exc).__name__})") from None


class RequestActivities:
    def __init__(self, platform: Platform, tuning: Tuning | None = None) -> None:
        self._platform = platform
        tuning = tuning or Tuning()
        self._running = 0  # requests in their row steps: one alone never waits for others
        # Reads and writes of many requests on one collection run as one statement.
        self._reads: Coalescer[Step, int] = Coalescer(
            lambda steps: coalesced_reads.retrieve_many(platform, steps),
            window_s=tuning.coalesce_window_s,
            max_batch=tuning.coalesce_max_batch,
            busy=self._busy,
        )
        self._writes: Coalescer[Step, int] = Coalescer(
            lambda steps: coalesced_writes.erase_many(platform, steps),
            window_s=tuning.coalesce_window_s,
            max_batch=tuning.coalesce_max_batch,
            busy=self._busy,
        )

        self._rechecks: Coalescer[Step, str] = Coalescer(
            lambda steps: coalesced_rechecks.recheck_many(platform, steps),
            window_s=tuning.coalesce_window_s,
            max_batch=tuning.coalesce_max_batch,
            busy=self._busy,
        )

    def _busy(self) -> bool:
        return self._running > 1

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.begin,
            self.retrieve,
            self.erase,
            self.run_rows,
            self.recheck,
            self.build_package,
            self.finish,
            self.ask_system,
            self.remind,
            self.give_up,
            self.call_outcome,
            self.lifecycle_status,
            self.deadline_tick,
        ]

    @activity.defn(name="lifecycle_status")
    async def lifecycle_status(self, request_id: str) -> RequestState:
        return await _run(
            lambda: execution.state_of(self._platform, request_id), "status", request_id
        )

    @activity.defn(name="deadline_tick")
    async def deadline_tick(self, step: DeadlineTick) -> Tick:
        at = datetime.fromisoformat(step.at)
        return await _run(
            lambda: deadlines.tick(self._platform, step.request_id, at), "deadline", step.request_id
        )

    @activity.defn(name="begin")
    async def begin(self, request_id: str) -> Outline:
        outline = await _run(
            lambda: execution.begin(self._platform, request_id), "plan", request_id
        )
        if outline.active and outline.request_type == RequestType.OPT_OUT.value:
            # An opt-out is a decision recorded in the consent ledger, then propagated.
            work = consent_requests.opt_out_and_propagate(self._platform, request_id)
            await guard(work, "consent", request_id)
        return outline

    @activity.defn(name="retrieve")
    async def retrieve(self, step: NodeStep) -> int:
        return await guard(
            self._reads.run(step.address, Step(step.request_id, step.address)),
            f"read {step.address}",
            step.request_id,
        )

    @activity.defn(name="erase")
    async def erase(self, step: NodeStep) -> int:
        return await guard(
            self._writes.run(step.address, Step(step.request_id, step.address)),
            f"erase {step.address}",
            step.request_id,
        )

    @activity.defn(name="run_rows")
    async def run_rows(self, step: RowsStep) -> list[str]:
        """Every row step of the request in one activity (each node still coalesced with other
        requests'); the re-check's problems (empty: verified). A retry skips finished nodes."""
        self._running += 1
        try:
            return await self._rows(step)
        finally:
            self._running -= 1

    async def _rows(self, step: RowsStep) -> list[str]:
        rid = step.request_id
        for wave in step.waves:
            await self._all(self._reads, "read", rid, wave)
            activity.heartbeat()
        if step.read_only:
            await self.build_package(rid)
            return []
        for group in step.erase_groups:
            await self._all(self._writes, "erase", rid, group)
            activity.heartbeat()
        written = [a for group in step.erase_groups for a in group]
        problems = await asyncio.gather(
            *(guard(self._rechecks.run(a, Step(rid, a)), f"re-check {a}", rid) for a in written)
        )
        return [p for p in problems if p]

    async def _all(
        self, steps: Coalescer[Step, int], verb: str, rid: str, addresses: list[str]
    ) -> None:
        """The nodes at once; when any failed, the first failure (after all have finished)."""
        outcomes = await asyncio.gather(
            *(guard(steps.run(a, Step(rid, a)), f"{verb} {a}", rid) for a in addresses),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            raise failures[0]

    @activity.defn(name="recheck")
    async def recheck(self, request_id: str) -> list[str]:
        return await _run(
            lambda: write_steps.recheck(self._platform, request_id), "re-check", request_id
        )

    @activity.defn(name="build_package")
    async def build_package(self, request_id: str) -> int:
        return await _run(lambda: package.build(self._platform, request_id), "package", request_id)

    @activity.defn(name="finish")
    async def finish(self, step: Finish) -> str:
        return await _run(
            lambda: execution.finish(self._platform, step.request_id, step.failure),
            "finish",
            step.request_id,
        )

    async def _on_system(
        self, step: SystemStep, what: str, call: Callable[[Platform, str, str, str], T]
    ) -> T:
        return await _run(
            lambda: call(self._platform, step.request_id, step.system, step.operation),
            what,
            step.request_id,
        )

    @activity.defn(name="ask_system")
    async def ask_system(self, step: SystemStep) -> CallState:
        return await self._on_system(
            step, f"ask {step.system} to {step.operation}", system_calls.ask
        )

    @activity.defn(name="remind")
    async def remind(self, step: SystemStep) -> str:
        return await self._on_system(step, f"remind {step.system}", system_calls.remind)

    @activity.defn(name="give_up")
    async def give_up(self, step: SystemStep) -> str:
        return await self._on_system(
            step,
            f"give up on {step.system}",
            lambda platform, rid, system, op: system_calls.give_up(
                platform, rid, system, op, step.why
            ),
        )

    @activity.defn(name="call_outcome")
    async def call_outcome(self, step: SystemStep) -> str:
        return await self._on_system(step, f"outcome of {step.system}", system_calls.outcome)
