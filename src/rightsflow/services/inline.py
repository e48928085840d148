"""Run a request's steps in this process, in the order its workflow runs them.

For benchmarks, property tests and tools that need a request done without a Temporal worker.
Production runs requests through the durable workflow (`rightsflow.workflows`), which calls
the same steps; nothing here retries or survives a crash.
"""

from __future__ import annotations

from rightsflow.domain.errors import Conflict, RightsflowError
from rightsflow.domain.requests import RequestType
from rightsflow.services import execution, package, system_calls, write_steps
from rightsflow.services.platform import Platform


def run_inline(platform: Platform, request_id: str) -> str:
    """Plan, read, write or package, re-check and finish; returns the final status."""
    outline = execution.begin(platform, request_id)
    if not outline.active:
        return "inactive"
    try:
        for i, wave in enumerate(outline.waves):
            for address in wave:
                execution.retrieve(platform, request_id, address)
            for system in outline.asked[i] if i < len(outline.asked) else ():
                _ask_now(platform, request_id, system, "access")
        if RequestType(outline.request_type).reads_only:
            package.build(platform, request_id)
            return execution.finish(platform, request_id)
        for group in outline.erase_groups:
            for address in group:
                write_steps.erase(platform, request_id, address)
        for system in outline.erasing:
            _ask_now(platform, request_id, system, "erase")
        for system in outline.rechecking:
            _ask_now(platform, request_id, system, "recheck")
        problems = write_steps.recheck(platform, request_id)
    except RightsflowError as exc:  # the workflow fails the request the same way
        return execution.finish(platform, request_id, str(exc))
    return execution.finish(platform, request_id, "; ".join(problems) or None)


def _ask_now(platform: Platform, request_id: str, system: str, operation: str) -> None:
    """Ask a system that answers for itself; inline there is no waiting for a late answer."""
    state = system_calls.ask(platform, request_id, system, operation)
    if state.status == "pending":
        raise Conflict(f"{system} answers {operation} later: run the request through a worker")
    problem = system_calls.outcome(platform, request_id, system, operation)
    if problem:
        raise Conflict(problem)
