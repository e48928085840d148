"""One workflow per bulk job: run its chunks one after the other, each in one activity that
loads the chunk, runs it through the chunk engine and stores its outcomes in one transaction
(services/bulk_run.py).

Durable by construction: a chunk is done or not (in our database, not in workflow history),
so a run started again after a crash, or a continue-as-new, asks which chunks are left and
resumes from the last finished one. After `chunks_per_run` chunks the workflow continues as
new to keep its history short (a million subjects are 1,000 chunks). Chunk activities
heartbeat while the engine works, so a worker killed mid-chunk is noticed within the
heartbeat timeout and the chunk runs again elsewhere. Inputs and results: ids and counts.
Cancel is a status in the database: the next chunk activity sees it and the workflow stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    import structlog

    from rightsflow.domain.errors import ConnectorFailure, RightsflowError
    from rightsflow.services import bulk_run
    from rightsflow.services.platform import Platform
    from rightsflow.workflows.contracts import StepPolicy

T = TypeVar("T")
BULK_WORKFLOW = "BulkJob"
BEGIN, CHUNK, FINISH, FAIL = "bulk_begin", "bulk_chunk", "bulk_finish", "bulk_fail"
CHUNKS_PER_RUN = 200
log = structlog.get_logger("rightsflow.bulk")


def bulk_workflow_id(job_id: str) -> str:
    return f"bulk-job-{job_id}"


@dataclass(frozen=True)
class RunBulk:
    job_id: str
    steps: StepPolicy
    chunks_per_run: int = CHUNKS_PER_RUN


@dataclass(frozen=True)
class BeginStep:
    job_id: str
    limit: int


@dataclass(frozen=True)
class Batch:
    chunks: list[int] | None  # None: the job finished or was canceled


@dataclass(frozen=True)
class ChunkStep:
    job_id: str
    chunk_no: int
    heartbeat_s: float


@dataclass(frozen=True)
class FailStep:
    job_id: str
    reason: str


class BulkActivities:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def all(self) -> list[Any]:
        return [self.begin, self.chunk, self.finish, self.fail]

    @activity.defn(name=BEGIN)
    async def begin(self, step: BeginStep) -> Batch:
        found = await _run(lambda: bulk_run.begin(self._platform, step.job_id, step.limit), BEGIN)
        return Batch(found)

    @activity.defn(name=CHUNK)
    async def chunk(self, step: ChunkStep) -> bulk_run.ChunkResult:
        def work() -> bulk_run.ChunkResult:
            return bulk_run.run_chunk(self._platform, step.job_id, step.chunk_no, _no_op)

        beating = asyncio.create_task(_heartbeat(step.heartbeat_s))
        try:
            return await _run(work, CHUNK)
        finally:
            beating.cancel()

    @activity.defn(name=FINISH)
    async def finish(self, job_id: str) -> str:
        return await _run(lambda: bulk_run.finish(self._platform, job_id), FINISH)

    @activity.defn(name=FAIL)
    async def fail(self, step: FailStep) -> str:
        return await _run(lambda: bulk_run.fail(self._platform, step.job_id, step.reason), FAIL)


def _no_op() -> None:
    """The engine's progress callback runs in the worker thread; heartbeats go from the loop."""


async def _heartbeat(every_s: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every_s)


async def _run(call: Callable[[], T], what: str) -> T:
    try:
        return await asyncio.to_thread(call)
    except ConnectorFailure as exc:  # a system down: retried, as the request steps are
        log.warning("bulk_step_failed", step=what, retryable=exc.retryable)
        raise ApplicationError(str(exc), non_retryable=not exc.retryable) from None
    except RightsflowError as exc:
        log.warning("bulk_step_refused", step=what, code=exc.code)
        raise ApplicationError(str(exc), non_retryable=True) from None
    except Exception as exc:
        # Unknown errors may carry data in their text: keep only the type.
        log.exception("bulk_step_crashed", step=what)
        raise ApplicationError(f"{what}: {type(exc).__name__}") from None


_RESULTS: dict[str, type] = {
    BEGIN: Batch,
    CHUNK: bulk_run.ChunkResult,
    FINISH: str,
    FAIL: str,
}


@workflow.defn(name=BULK_WORKFLOW)
class BulkJobWorkflow:
    @workflow.run
    async def run(self, run: RunBulk) -> str:
        """The job's final status ("stopped" when canceled or finished before)."""
        self._policy = run.steps
        try:
            batch: Batch = await self._step(BEGIN, BeginStep(run.job_id, run.chunks_per_run + 1))
            if batch.chunks is None:
                return "stopped"
            beat = min(max(run.steps.timeout_s / 3, 0.5), 20.0)
            for chunk_no in batch.chunks[: run.chunks_per_run]:
                step = ChunkStep(run.job_id, chunk_no, beat)
                done: bulk_run.ChunkResult = await self._step(CHUNK, step, chunk=True)
                if done.stop:
                    return "stopped"
            if len(batch.chunks) > run.chunks_per_run:
                workflow.continue_as_new(run)
            status: str = await self._step(FINISH, run.job_id)
        except ActivityError as exc:
            # The failure's message was made safe by the activity (no data in it).
            reason = str(exc.cause or exc)[:500]
            failed: str = await self._step(FAIL, FailStep(run.job_id, reason))
            return failed
        return status

    async def _step(self, name: str, arg: object, *, chunk: bool = False) -> Any:
        policy = self._policy
        timeout = timedelta(seconds=policy.timeout_s)
        return await workflow.execute_activity(
            name,
            arg,
            result_type=_RESULTS[name],
            # A chunk of 1,000 subjects may take minutes on a large shop: its heartbeat, not
            # its run time, is what notices a dead worker.
            start_to_close_timeout=timedelta(hours=1) if chunk else timeout,
            heartbeat_timeout=timeout if chunk else None,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=policy.initial_interval_s),
                maximum_interval=timedelta(seconds=policy.max_interval_s),
                maximum_attempts=policy.max_attempts,
            ),
        )


class TemporalBulkStarter:
    """The BulkStarter port on a Temporal client."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        steps: StepPolicy,
        chunks_per_run: int = CHUNKS_PER_RUN,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._steps = steps
        self._chunks_per_run = chunks_per_run

    async def start(self, job_id: str) -> None:
        # Already running: starting is idempotent; a finished job's new run stops at once.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._client.start_workflow(
                BULK_WORKFLOW,
                RunBulk(job_id, self._steps, self._chunks_per_run),
                id=bulk_workflow_id(job_id),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
