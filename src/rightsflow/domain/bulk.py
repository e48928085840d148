"""Bulk jobs: one file of identities (account closures, fraud clean-ups) run as chunks of
set-based statements, with one outcome, and so one receipt, per subject. Pure model."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BulkKind(StrEnum):
    ERASE = "erase"
    ACCESS = "access"


class BulkStatus(StrEnum):
    PENDING = "pending"  # intake done, not started
    RUNNING = "running"
    COMPLETED = "completed"  # every subject done (some may have failed: see counts)
    FAILED = "failed"  # the job itself could not go on (e.g. the plan is invalid)
    CANCELED = "canceled"


@dataclass(frozen=True)
class BulkSubject:
    """One line of the job's file: its position (1-based) and its identities."""

    seq: int
    identities: dict[str, str] = field(repr=False)  # identity type -> value


@dataclass
class CollectionOutcome:
    """What the job did in one collection for one subject. Counts only."""

    address: str
    rows_found: int = 0
    rows_deleted: int = 0
    rows_masked: int = 0
    rows_kept: int = 0  # kept under an exemption
    remaining: int = 0  # re-check: rows still holding targeted data


@dataclass
class SubjectOutcome:
    """One subject's result: its receipt is built from this. `problem` names a collection and
    a reason, never a value."""

    seq: int
    collections: list[CollectionOutcome] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and all(c.remaining == 0 for c in self.collections)

    @property
    def rows_found(self) -> int:
        return sum(c.rows_found for c in self.collections)

    @property
    def rows_written(self) -> int:
        return sum(c.rows_deleted + c.rows_masked for c in self.collections)
