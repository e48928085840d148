"""Inputs and outputs of the request workflow and its activities: ids and counts only."""

from __future__ import annotations

from dataclasses import dataclass

from rightsflow.services.execution import Outline
from rightsflow.services.system_calls import CallState

__all__ = [
    "ANSWERED_SIGNAL",
    "CHANGED_SIGNAL",
    "DECISION_TYPES",
    "READ_ONLY_TYPES",
    "Answered",
    "CallState",
    "DeadlineTick",
    "Finish",
    "NodeStep",
    "Outline",
    "RowsStep",
    "RunRequest",
    "StepPolicy",
    "SystemStep",
    "workflow_id",
]

WORKFLOW_NAME = "PrivacyRequest"
ANSWERED_SIGNAL = "system_answered"
CHANGED_SIGNAL = "lifecycle_changed"  # status or deadline changed: look again
# Request types that read and package data; every other type changes rows and is re-checked.
READ_ONLY_TYPES = ("access", "portability")
# Request types that are decisions to record, with nothing to read or write.
DECISION_TYPES = ("opt_out", "limit_use")


def workflow_id(request_id: str) -> str:
    return f"privacy-request-{request_id}"


@dataclass(frozen=True)
class StepPolicy:
    max_attempts: int = 8
    initial_interval_s: float = 1.0
    max_interval_s: float = 30.0
    timeout_s: float = 300.0


@dataclass(frozen=True)
class RowsStep:
    """All row work of a request none of whose systems answers for itself, as one activity:
    read wave by wave, then (unless read-only) write group by group and read again, or build
    the package. Addresses only."""

    request_id: str
    waves: list[list[str]]
    erase_groups: list[list[str]]
    read_only: bool


@dataclass(frozen=True)
class Tuning:
    """How a worker batches and how much it runs at once (settings `worker_*`, `coalesce_*`)."""

    coalesce_window_s: float = 0.005
    coalesce_max_batch: int = 100
    max_concurrent_activities: int = 64
    max_concurrent_workflow_tasks: int = 64


@dataclass(frozen=True)
class RunRequest:
    request_id: str
    attempt: int
    steps: StepPolicy


@dataclass(frozen=True)
class NodeStep:
    request_id: str
    address: str


@dataclass(frozen=True)
class Finish:
    request_id: str
    failure: str | None = None


@dataclass(frozen=True)
class SystemStep:
    """A question to a system that answers for itself; `why` is set when giving up on it."""

    request_id: str
    system: str
    operation: str  # "access" | "erase" | "recheck"
    why: str = ""


@dataclass(frozen=True)
class DeadlineTick:
    request_id: str
    at: str  # the workflow's now, ISO-8601 UTC (time-skipping servers move it)


@dataclass(frozen=True)
class Answered:
    """Signal: the system answered (the answer itself is in the store, not in history)."""

    system: str
    operation: str
