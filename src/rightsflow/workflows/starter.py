"""The WorkflowStarter port on a Temporal client."""

from __future__ import annotations

import contextlib

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from rightsflow.workflows.contracts import (
    ANSWERED_SIGNAL,
    CHANGED_SIGNAL,
    WORKFLOW_NAME,
    Answered,
    RunRequest,
    StepPolicy,
    workflow_id,
)


class TemporalStarter:
    def __init__(self, client: Client, task_queue: str, steps: StepPolicy) -> None:
        self._client = client
        self._task_queue = task_queue
        self._steps = steps

    async def start(self, request_id: str, attempt: int) -> None:
        # Already running: starting is idempotent.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._client.start_workflow(
                WORKFLOW_NAME,
                RunRequest(request_id, attempt, self._steps),
                id=workflow_id(request_id),
                task_queue=self._task_queue,
                # A retry starts a new run under the same id once the previous one closed.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )

    async def changed(self, request_id: str) -> None:
        # Signal-with-start: a running workflow gets the signal; a closed one (e.g. after a
        # crash) is started again and finds the new state itself.
        await self._client.start_workflow(
            WORKFLOW_NAME,
            RunRequest(request_id, 0, self._steps),
            id=workflow_id(request_id),
            task_queue=self._task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=CHANGED_SIGNAL,
        )

    async def cancel(self, request_id: str) -> None:
        handle = self._client.get_workflow_handle(workflow_id(request_id))
        try:
            await handle.cancel()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise

    async def answered(self, request_id: str, system: str, operation: str) -> None:
        handle = self._client.get_workflow_handle(workflow_id(request_id))
        try:
            await handle.signal(ANSWERED_SIGNAL, Answered(system, operation))
        except RPCError as exc:
            # Not running (finished, or between retries): the answer is stored; the next run
            # finds it there.
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
