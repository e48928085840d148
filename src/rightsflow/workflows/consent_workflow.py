"""One durable workflow per consent record (an opt-out or a withdrawal), id
`consent-<record id>`: choose the systems with the consent capability, tell each of them (at
once, each with the request activities' retry policy), give up on a system that keeps failing
(the operators are told, as for a failing erasure system), then sign the record's receipt.
An operator's retry starts another run, id `consent-<record id>-retry-<n>`, that tells only
the systems it reset (failed ones; confirmed systems are never told twice).

Inputs and histories hold ids and system names only: the tell activity opens the subject's
sealed value itself (services/consent_propagation.py). A worker that dies mid-way is replaced
by another that goes on from history; a system that has confirmed is never told again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from rightsflow.services import consent_propagation
    from rightsflow.services.platform import Platform
    from rightsflow.workflows.activities import guard
    from rightsflow.workflows.contracts import StepPolicy
    from rightsflow.workflows.request_workflow import failed_step_reason, step_retry_policy

CONSENT_WORKFLOW = "ConsentPropagation"
MAX_HEARTBEAT_S = 30.0  # a worker that died is noticed within this, whatever the step timeout
T = TypeVar("T")


def consent_workflow_id(record_id: str, retry: int = 0) -> str:
    return f"consent-{record_id}" + (f"-retry-{retry}" if retry else "")


@dataclass(frozen=True)
class PropagateRecord:
    record_id: str
    steps: StepPolicy
    systems: list[str] | None = None  # a retry: tell only these (None: the ones chosen)


@dataclass(frozen=True)
class ConsentStep:
    """One system to tell about one record; `why` is set when giving up on it."""

    record_id: str
    system: str
    why: str = ""


class ConsentActivities:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def all(self) -> list[Callable[..., Any]]:
        return [self.begin, self.tell, self.give_up, self.finish]

    async def _run(self, call: Callable[[], T], what: str, record_id: str) -> T:
        return await guard(asyncio.to_thread(call), what, record_id)

    @activity.defn(name="consent_begin")
    async def begin(self, record_id: str) -> list[str]:
        return await self._run(
            lambda: consent_propagation.begin(self._platform, record_id), "consent plan", record_id
        )

    @activity.defn(name="consent_tell")
    async def tell(self, step: ConsentStep) -> str:
        work = self._run(
            lambda: consent_propagation.tell(self._platform, step.record_id, step.system),
            f"tell {step.system}",
            step.record_id,
        )
        return await _beating(work)

    @activity.defn(name="consent_give_up")
    async def give_up(self, step: ConsentStep) -> str:
        return await self._run(
            lambda: consent_propagation.give_up(
                self._platform, step.record_id, step.system, step.why
            ),
            f"give up on {step.system}",
            step.record_id,
        )

    @activity.defn(name="consent_finish")
    async def finish(self, record_id: str) -> dict[str, int]:
        return await self._run(
            lambda: consent_propagation.finish(self._platform, record_id),
            "consent receipt",
            record_id,
        )


async def _beating(work: Awaitable[T]) -> T:
    """Await `work`, heartbeating meanwhile, so a worker that dies mid-call is noticed at the
    heartbeat timeout rather than at the step's (much longer) timeout."""
    timeout = activity.info().heartbeat_timeout
    every = timeout.total_seconds() / 3 if timeout else MAX_HEARTBEAT_S / 3
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=every)
        if done:
            return task.result()
        activity.heartbeat()


@workflow.defn(name=CONSENT_WORKFLOW)
class ConsentPropagationWorkflow:
    @workflow.run
    async def run(self, params: PropagateRecord) -> dict[str, int]:
        self._steps = params.steps
        rid = params.record_id
        systems: list[str] = await self._step("consent_begin", rid, list[str])
        if params.systems is not None:
            systems = [s for s in systems if s in params.systems]
        await asyncio.gather(*(self._tell(rid, system) for system in systems))
        counts: dict[str, int] = await self._step("consent_finish", rid, dict[str, int])
        return counts

    async def _tell(self, rid: str, system: str) -> None:
        """Tell one system; when its retries run out, give up on it (never raises for it)."""
        try:
            await workflow.execute_activity(
                "consent_tell",
                ConsentStep(rid, system),
                result_type=str,
                start_to_close_timeout=timedelta(seconds=self._steps.timeout_s),
                heartbeat_timeout=timedelta(seconds=min(self._steps.timeout_s, MAX_HEARTBEAT_S)),
                retry_policy=self._retry(),
            )
        except ActivityError as err:
            await self._step(
                "consent_give_up", ConsentStep(rid, system, failed_step_reason(err)), str
            )

    async def _step(self, name: str, arg: Any, result_type: type) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=self._steps.timeout_s),
            retry_policy=self._retry(),
        )

    def _retry(self) -> RetryPolicy:
        """The request activities' policy (settings step_*), errors mapped by the same guard."""
        return step_retry_policy(self._steps)


class TemporalConsentPropagator:
    """The ConsentPropagator port: starts the record's workflow. Idempotent: a record that is
    being or has been propagated is not started again (a terminated run may be)."""

    def __init__(self, client: Client, task_queue: str, steps: StepPolicy) -> None:
        self._client = client
        self._task_queue = task_queue
        self._steps = steps

    async def propagate(self, record_id: str) -> None:
        await self._start(PropagateRecord(record_id, self._steps), consent_workflow_id(record_id))

    async def retry(self, record_id: str, run: int, systems: Sequence[str]) -> None:
        params = PropagateRecord(record_id, self._steps, list(systems))
        await self._start(params, consent_workflow_id(record_id, run))

    async def _start(self, params: PropagateRecord, workflow_id: str) -> None:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._client.start_workflow(
                CONSENT_WORKFLOW,
                params,
                id=workflow_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
