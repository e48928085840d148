"""Bulk jobs in SQL: the job row (counts), its chunks of sealed identities, and one outcome row
per subject. Satisfies services.ports.BulkRepository structurally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from rightsflow.domain.bulk import BulkKind, BulkStatus, CollectionOutcome
from rightsflow.domain.bulk_jobs import FINISHED, BulkJob, ChunkTally, SubjectRecord
from rightsflow.domain.errors import NotFound
from rightsflow.storage.tables import bulk_chunks, bulk_jobs, bulk_subjects, utcnow

_j = bulk_jobs.c
_c = bulk_chunks.c
_s = bulk_subjects.c
PENDING, DONE = "pending", "done"
_COUNTERS = (
    "subjects_total",
    "duplicates",
    "subjects_done",
    "subjects_failed",
    "rows_found",
    "rows_written",
    "chunks_total",
    "chunks_done",
)


class SqlBulkRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    # --- jobs ---

    def add_job(self, job: BulkJob) -> None:
        self._conn.execute(sa.insert(bulk_jobs).values(**_job_values(job), plan=None))

    def get_job(self, job_id: str) -> BulkJob:
        row = self._conn.execute(sa.select(bulk_jobs).where(_j.id == job_id)).mappings().first()
        if row is None or row["accepted_at"] is None:
            raise NotFound("bulk job not found")
        return _job(row)

    def accept(self, job: BulkJob, plan: dict[str, Any]) -> None:
        """The intake is done: the job's counts and plan, and it may be listed and run."""
        values = _job_values(job)
        self._conn.execute(sa.update(bulk_jobs).where(_j.id == job.id).values(**values, plan=plan))

    def delete_job(self, job_id: str) -> None:
        """Drop a job and everything it holds (a refused intake)."""
        for table in (bulk_subjects, bulk_chunks):
            self._conn.execute(sa.delete(table).where(table.c.job_id == job_id))
        self._conn.execute(sa.delete(bulk_jobs).where(_j.id == job_id))

    def plan(self, job_id: str) -> dict[str, Any]:
        raw = self._conn.execute(sa.select(_j.plan).where(_j.id == job_id)).scalar_one_or_none()
        if raw is None:
            raise NotFound("bulk job not found")
        plan: dict[str, Any] = raw
        return plan

    def set_status(
        self,
        job_id: str,
        status: BulkStatus,
        at: datetime,
        *,
        unless: frozenset[BulkStatus] = frozenset(),
        reason: str | None = None,
    ) -> bool:
        """Move the job to `status` unless it is in one of `unless`; True if it moved.
        A conditional update, so a cancel and the workflow never overwrite each other."""
        values: dict[str, Any] = {"status": status.value, "updated_at": utcnow()}
        if status is BulkStatus.RUNNING:
            values["started_at"] = sa.func.coalesce(_j.started_at, at)
        elif status in FINISHED:
            values["finished_at"] = at
            values["failure_reason"] = reason
        query = sa.update(bulk_jobs).where(_j.id == job_id).values(**values)
        if unless:
            query = query.where(_j.status.not_in([s.value for s in unless]))
        return bool(self._conn.execute(query).rowcount)

    def list_jobs(self, after: tuple[datetime, str] | None, limit: int) -> Sequence[BulkJob]:
        """Newest first; `after` is the (created_at, id) of the previous page's last job."""
        query = sa.select(bulk_jobs).where(_j.accepted_at.is_not(None))
        if after is not None:
            at, job_id = after
            query = query.where(
                sa.or_(_j.created_at < at, sa.and_(_j.created_at == at, _j.id < job_id))
            )
        query = query.order_by(_j.created_at.desc(), _j.id.desc()).limit(limit)
        return [_job(r) for r in self._conn.execute(query).mappings()]

    def unfinished(self) -> Sequence[str]:
        """Ids of accepted jobs still pending or running (to resume after a restart)."""
        query = sa.select(_j.id).where(
            _j.accepted_at.is_not(None),
            _j.status.in_([BulkStatus.PENDING.value, BulkStatus.RUNNING.value]),
        )
        return list(self._conn.execute(query).scalars())

    def abandoned(self, before: datetime) -> Sequence[str]:
        """Ids of jobs whose intake began before `before` and never finished (the process
        taking the file in stopped): their chunks are to be discarded."""
        query = sa.select(_j.id).where(_j.accepted_at.is_(None), _j.created_at < before)
        return list(self._conn.execute(query).scalars())

    # --- chunks ---

    def add_chunk(self, job_id: str, chunk_no: int, subjects: int, sealed: bytes) -> None:
        self._conn.execute(
            sa.insert(bulk_chunks).values(
                job_id=job_id,
                chunk_no=chunk_no,
                subjects=subjects,
                sealed=sealed,
                status=PENDING,
                subjects_failed=0,
                rows_found=0,
                rows_written=0,
            )
        )

    def pending_chunks(self, job_id: str, limit: int) -> list[int]:
        query = (
            sa.select(_c.chunk_no)
            .where(_c.job_id == job_id, _c.status == PENDING)
            .order_by(_c.chunk_no)
            .limit(limit)
        )
        return list(self._conn.execute(query).scalars())

    def chunk(self, job_id: str, chunk_no: int) -> tuple[str, bytes]:
        """(status, sealed subjects) of a chunk."""
        row = self._conn.execute(
            sa.select(_c.status, _c.sealed).where(_c.job_id == job_id, _c.chunk_no == chunk_no)
        ).first()
        if row is None:
            raise NotFound("bulk chunk not found")
        return str(row.status), bytes(row.sealed)

    def finish_chunk(
        self,
        job_id: str,
        chunk_no: int,
        records: Sequence[SubjectRecord],
        sealed_rows: dict[int, bytes],
        at: datetime,
    ) -> ChunkTally:
        """Store the chunk's subject outcomes, mark it done and add its counts to the job's.
        A chunk run again replaces what an earlier, unfinished run may have left."""
        self._conn.execute(
            sa.delete(bulk_subjects).where(_s.job_id == job_id, _s.chunk_no == chunk_no)
        )
        if records:
            self._conn.execute(
                sa.insert(bulk_subjects),
                [_subject_values(job_id, r, sealed_rows.get(r.seq), at) for r in records],
            )
        tally = ChunkTally.of(list(records))
        self._conn.execute(
            sa.update(bulk_chunks)
            .where(_c.job_id == job_id, _c.chunk_no == chunk_no)
            .values(
                status=DONE,
                done_at=at,
                subjects_failed=tally.failed,
                rows_found=tally.rows_found,
                rows_written=tally.rows_written,
            )
        )
        self._conn.execute(
            sa.update(bulk_jobs)
            .where(_j.id == job_id)
            .values(
                subjects_done=_j.subjects_done + tally.subjects,
                subjects_failed=_j.subjects_failed + tally.failed,
                rows_found=_j.rows_found + tally.rows_found,
                rows_written=_j.rows_written + tally.rows_written,
                chunks_done=_j.chunks_done + 1,
                updated_at=utcnow(),
            )
        )
        return tally

    # --- subjects ---

    def subjects(
        self, job_id: str, status: str | None, after: int | None, limit: int
    ) -> Sequence[SubjectRecord]:
        """Outcomes in line order (seq > `after`), of one status if given."""
        query = sa.select(*_RECORD_COLUMNS).where(_s.job_id == job_id)
        if status is not None:
            query = query.where(_s.status == status)
        if after is not None:
            query = query.where(_s.seq > after)
        query = query.order_by(_s.seq).limit(limit)
        return [_record(r) for r in self._conn.execute(query).mappings()]

    def subject(self, job_id: str, seq: int) -> SubjectRecord | None:
        query = sa.select(*_RECORD_COLUMNS).where(_s.job_id == job_id, _s.seq == seq)
        row = self._conn.execute(query).mappings().first()
        return _record(row) if row is not None else None

    def sealed_rows(self, job_id: str, seq: int) -> bytes | None:
        query = sa.select(_s.sealed_rows).where(_s.job_id == job_id, _s.seq == seq)
        raw = self._conn.execute(query).scalar_one_or_none()
        return bytes(raw) if raw is not None else None


_RECORD_COLUMNS = (_s.seq, _s.chunk_no, _s.status, _s.counts, _s.problem)


def _job_values(job: BulkJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind.value,
        "policy_key": job.policy_key,
        "regime": job.regime,
        "status": job.status.value,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "accepted_at": job.accepted_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "failure_reason": job.failure_reason,
        "identity_types": list(job.identity_types),
        "chunk_size": job.chunk_size,
        **{name: getattr(job, name) for name in _COUNTERS},
        "updated_at": utcnow(),
    }


def _job(row: RowMapping) -> BulkJob:
    return BulkJob(
        id=row["id"],
        kind=BulkKind(row["kind"]),
        policy_key=row["policy_key"],
        regime=row["regime"],
        status=BulkStatus(row["status"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        identity_types=tuple(row["identity_types"]),
        chunk_size=row["chunk_size"],
        accepted_at=row["accepted_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        failure_reason=row["failure_reason"],
        **{name: int(row[name]) for name in _COUNTERS},
    )


def _subject_values(
    job_id: str, record: SubjectRecord, sealed: bytes | None, at: datetime
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seq": record.seq,
        "chunk_no": record.chunk_no,
        "status": record.status,
        "counts": [asdict(c) for c in record.collections],
        "problem": record.problem,
        "sealed_rows": sealed,
        "done_at": at,
    }


def _record(row: RowMapping) -> SubjectRecord:
    return SubjectRecord(
        seq=row["seq"],
        chunk_no=row["chunk_no"],
        status=row["status"],
        collections=[CollectionOutcome(**c) for c in row["counts"]],
        problem=row["problem"],
    )
