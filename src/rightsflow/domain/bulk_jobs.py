"""A bulk job's record and its progress (rate, ETA). Counts, statuses and actors only: the
identities live sealed in the job's chunks. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rightsflow.domain.bulk import BulkKind, BulkStatus, CollectionOutcome, SubjectOutcome

FINISHED = frozenset({BulkStatus.COMPLETED, BulkStatus.FAILED, BulkStatus.CANCELED})


@dataclass
class BulkJob:
    id: str
    kind: BulkKind
    policy_key: str
    regime: str
    status: BulkStatus
    created_by: str
    created_at: datetime
    identity_types: tuple[str, ...]
    chunk_size: int
    accepted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    failure_reason: str | None = None
    subjects_total: int = 0
    duplicates: int = 0
    subjects_done: int = 0
    subjects_failed: int = 0
    rows_found: int = 0
    rows_written: int = 0
    chunks_total: int = 0
    chunks_done: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Progress:
    fraction: float  # subjects done / total, 0..1
    rate: float | None  # subjects per second over the run so far
    eta_s: float | None  # seconds left at that rate (None: unknown, or finished)


def progress(job: BulkJob, now: datetime) -> Progress:
    fraction = job.subjects_done / job.subjects_total if job.subjects_total else 1.0
    if job.started_at is None:
        return Progress(fraction, None, None)
    elapsed = ((job.finished_at or now) - job.started_at) / timedelta(seconds=1)
    if elapsed <= 0 or job.subjects_done == 0:
        return Progress(fraction, None, None)
    rate = job.subjects_done / elapsed
    left = job.subjects_total - job.subjects_done
    eta = None if job.finished else left / rate
    return Progress(fraction, rate, eta)


@dataclass(frozen=True)
class SubjectRecord:
    """A subject's stored outcome (status "done" or "failed"), by its line number."""

    seq: int
    chunk_no: int
    status: str
    collections: list[CollectionOutcome] = field(default_factory=list)
    problem: str | None = None

    @classmethod
    def of(cls, outcome: SubjectOutcome, chunk_no: int) -> SubjectRecord:
        status = "done" if outcome.ok else "failed"
        problem = outcome.problem
        if problem is None and not outcome.ok:
            left = [c.address for c in outcome.collections if c.remaining]
            problem = f"re-check found rows left in {', '.join(left)}"
        return cls(outcome.seq, chunk_no, status, list(outcome.collections), problem)

    @property
    def rows_found(self) -> int:
        return sum(c.rows_found for c in self.collections)

    @property
    def rows_written(self) -> int:
        return sum(c.rows_deleted + c.rows_masked for c in self.collections)


@dataclass(frozen=True)
class ChunkTally:
    """What one chunk added to its job's counts."""

    subjects: int
    failed: int
    rows_found: int
    rows_written: int

    @classmethod
    def of(cls, records: list[SubjectRecord]) -> ChunkTally:
        return cls(
            len(records),
            sum(r.status == "failed" for r in records),
            sum(r.rows_found for r in records),
            sum(r.rows_written for r in records),
        )
