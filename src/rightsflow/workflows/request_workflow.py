"""One durable workflow per privacy request: plan, read wave by wave, erase children before
parents and re-check, or build the package; then complete or fail with a reason."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from rightsflow.workflows.contracts import (
        READ_ONLY_TYPES,
        WORKFLOW_NAME,
        Finish,
        NodeStep,
        Outline,
        RunRequest,
        StepPolicy,
    )


@workflow.defn(name=WORKFLOW_NAME)
class PrivacyRequestWorkflow:
    @workflow.run
    async def run(self, params: RunRequest) -> str:
        self._steps = params.steps
        rid = params.request_id
        try:
            outline: Outline = await self._step("begin", rid, result_type=Outline)
            if not outline.active:
                return "inactive"
            for wave in outline.waves:
                await self._each("retrieve", rid, wave)
            if outline.request_type in READ_ONLY_TYPES:
                await self._step("build_package", rid)
                return await self._finish(rid, None)
            for group in outline.erase_groups:
                await self._each("erase", rid, group)
            problems: list[str] = await self._step("recheck", rid, result_type=list[str])
            return await self._finish(rid, "; ".join(problems) or None)
        except ActivityError as err:
            return await self._finish(rid, _reason(err))

    async def _each(self, name: str, rid: str, addresses: list[str]) -> None:
        await asyncio.gather(*(self._step(name, NodeStep(rid, a)) for a in addresses))

    async def _finish(self, rid: str, failure: str | None) -> str:
        status: str = await self._step("finish", Finish(rid, failure), result_type=str)
        return status

    async def _step(self, name: str, arg: Any, result_type: type | None = None) -> Any:
        steps: StepPolicy = self._steps
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=steps.timeout_s),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=steps.initial_interval_s),
                maximum_interval=timedelta(seconds=steps.max_interval_s),
                maximum_attempts=steps.max_attempts,
                non_retryable_error_types=["NonRetryable"],
            ),
        )


def _reason(err: ActivityError) -> str:
    """The failing step's own message (written without personal data by the activities)."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message
    return f"step failed ({type(cause).__name__ if cause else 'unknown'})"
