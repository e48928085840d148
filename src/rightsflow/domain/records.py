"""Records the platform keeps about a request's execution: counts and ids, never personal
data in the clear (retrieved rows travel sealed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rightsflow.domain.requests import RequestStatus, RequestType


@dataclass
class NodeResult:
    """What one phase did on one collection for one request. Counts only; rows are sealed."""

    request_id: str
    address: str
    phase: str  # "retrieve" | "erase" | "recheck"
    status: str = "done"  # "done" | "failed"
    rows_found: int = 0
    rows_masked: int = 0
    rows_deleted: int = 0
    rows_changed: int = 0  # rows this run actually wrote (0 when an earlier attempt did)
    remaining: int = 0  # recheck: rows still holding targeted values
    detail: str | None = None
    sealed_rows: bytes | None = None  # encrypted JSON list of rows (retrieve only)
    # erase: what the write did beyond rows (files rewritten, snapshots expired); names only
    evidence: dict[str, list[str]] = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AuditEvent:
    request_id: str
    action: str  # e.g. "request.received", "request.status_changed", "node.erased"
    at: datetime
    actor: str = "system"
    from_status: str | None = None
    to_status: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # ids and counts only


@dataclass(frozen=True)
class RequestFilter:
    status: RequestStatus | None = None
    type: RequestType | None = None
    regime: str | None = None
    received_after: datetime | None = None
    received_before: datetime | None = None


@dataclass
class SystemCallRecord:
    """One question put to a system that does the work itself (a service or a person), and
    its answer. Counts, names and ids only: rows go to result pages, sealed; the one-time
    token is kept as a hash."""

    id: str
    request_id: str
    system: str
    operation: str  # "access" | "erase" | "recheck"
    status: str  # "pending" | "answered" | "overdue" | "failed"
    issued_at: datetime
    due_at: datetime
    token_hash: str | None = None
    assignee: str | None = None  # the person asked (manual tasks)
    answered_at: datetime | None = None
    actor: str | None = None  # who answered: "service" or the attesting person
    outcome: str | None = None  # "done" | "no_data" | "cannot_comply"
    detail: str | None = None  # why it failed or cannot be done (no personal data)
    counts: dict[str, int] = field(default_factory=dict)
    reminders: int = 0

    @property
    def awaiting(self) -> bool:
        return self.status in ("pending", "overdue")
