"""Run a request's steps in this process, in the order its workflow runs them.

For benchmarks, property tests and tools that need a request done without a Temporal worker.
Production runs requests through the durable workflow (`rightsflow.workflows`), which calls
the same steps; nothing here retries or survives a crash.
"""

from __future__ import annotations

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.requests import RequestType
from rightsflow.services import execution, package, write_steps
from rightsflow.services.platform import Platform


def run_inline(platform: Platform, request_id: str) -> str:
    """Plan, read, write or package, re-check and finish; returns the final status."""
    outline = execution.begin(platform, request_id)
    if not outline.active:
        return "inactive"
    try:
        for wave in outline.waves:
            for address in wave:
                execution.retrieve(platform, request_id, address)
        if RequestType(outline.request_type).reads_only:
            package.build(platform, request_id)
            return execution.finish(platform, request_id)
        for group in outline.erase_groups:
            for address in group:
                write_steps.erase(platform, request_id, address)
        problems = write_steps.recheck(platform, request_id)
    except RightsflowError as exc:  # the workflow fails the request the same way
        return execution.finish(platform, request_id, str(exc))
    return execution.finish(platform, request_id, "; ".join(problems) or None)
