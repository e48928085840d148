"""The steps of a bulk job's workflow (workflows/bulk_workflow.py): begin, run one chunk,
finish or fail. Each is idempotent: a chunk is done or not, and a chunk run again after a
crash (its outcomes never stored) runs through the engine again, whose writes are guarded, so
nothing is changed twice.

A chunk's outcomes, its "done" mark, the job's counts and its audit event are written in ONE
transaction: after a crash the job resumes from the last chunk that finished. Audit events
carry counts only.

An erase chunk also erases, in that transaction, the consent data of its subjects whose
erasure succeeded (services/consent_erasure.py, set-based for the chunk), as a single
erasure request does when it completes; a subject with a problem keeps it, as a failed
request does. A rerun after a crash finds the chunk done, or erases again and finds nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rightsflow.domain.bulk import BulkKind, BulkStatus, BulkSubject, CollectionOutcome
from rightsflow.domain.bulk import SubjectOutcome as Outcome
from rightsflow.domain.bulk_jobs import FINISHED, BulkJob, ChunkTally, SubjectRecord
from rightsflow.domain.plan import ExecutionPlan
from rightsflow.services import audit, bulk_engine, consent_erasure
from rightsflow.services.bulk_intake import open_chunk
from rightsflow.services.platform import Platform
from rightsflow.services.rows import to_json

DONE = "done"


@dataclass(frozen=True)
class ChunkResult:
    stop: bool  # the job was canceled or has finished: run no further chunk
    subjects: int = 0
    failed: int = 0


def begin(platform: Platform, job_id: str, limit: int) -> list[int] | None:
    """Mark the job running; the next `limit` chunks not done yet (None: the job finished or
    was canceled, run nothing)."""
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
        if job.finished:
            return None
        uow.bulk.set_status(job_id, BulkStatus.RUNNING, platform.clock(), unless=FINISHED)
        chunks = uow.bulk.pending_chunks(job_id, limit)
        uow.commit()
    return chunks


def run_chunk(
    platform: Platform, job_id: str, chunk_no: int, heartbeat: Callable[[], None]
) -> ChunkResult:
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
        status, sealed = uow.bulk.chunk(job_id, chunk_no)
        raw_plan = uow.bulk.plan(job_id)
    if job.finished:
        return ChunkResult(stop=True)
    if status == DONE:
        return ChunkResult(stop=False)
    subjects = open_chunk(platform.vault, job_id, sealed)
    plan = ExecutionPlan.from_dict(raw_plan)
    if job.kind is BulkKind.ERASE:
        outcomes = bulk_engine.run_chunk(platform, plan, subjects, on_rows=lambda _n: heartbeat())
        sealed_rows: dict[int, bytes] = {}
    else:
        outcomes, sealed_rows = _read(platform, job, plan, subjects, heartbeat)
    erasing = None  # an erase chunk: the identities of the subjects it erased
    if job.kind is BulkKind.ERASE:
        erasing = [s.identities for s, o in zip(subjects, outcomes, strict=True) if o.ok]
    tally = _finish_chunk(platform, job_id, chunk_no, outcomes, sealed_rows, erasing=erasing)
    return ChunkResult(stop=False, subjects=tally.subjects, failed=tally.failed)


def _finish_chunk(
    platform: Platform,
    job_id: str,
    chunk_no: int,
    outcomes: list[Outcome],
    sealed_rows: dict[int, bytes],
    *,
    erasing: list[dict[str, str]] | None,
) -> ChunkTally:
    """The chunk's outcomes, done mark, job counts, consent erasure and audit event: one
    transaction. The audit event carries counts only."""
    records = [SubjectRecord.of(o, chunk_no) for o in outcomes]
    now = platform.clock()
    with platform.uow() as uow:
        consent: dict[str, int] = {}
        if erasing is not None:
            erased = consent_erasure.erase_consent_subjects(platform, uow, erasing)
            consent = _consent_counts(erased)
        tally = uow.bulk.finish_chunk(job_id, chunk_no, records, sealed_rows, now)
        audit.record(
            uow,
            job_id,
            "bulk.chunk_done",
            now,
            chunk=chunk_no,
            subjects=tally.subjects,
            failed=tally.failed,
            rows_found=tally.rows_found,
            rows_written=tally.rows_written,
            actor="system",
            **consent,
        )
        uow.commit()
    return tally


def _consent_counts(erased: consent_erasure.ConsentErasure) -> dict[str, int]:
    """What an erase chunk erased of its subjects' consent data (counts only)."""
    return {
        "consent_subjects": erased.subjects,
        "experiment_rows": erased.experiment_rows,
        "sealed_cleared": erased.sealed_cleared,
        "keys_destroyed": erased.keys_destroyed,
    }


def _read(
    platform: Platform,
    job: BulkJob,
    plan: ExecutionPlan,
    subjects: list[BulkSubject],
    heartbeat: Callable[[], None],
) -> tuple[list[Outcome], dict[int, bytes]]:
    """An access chunk: each subject's rows, kept sealed under the job's key."""
    found = bulk_engine.read_chunk(platform, plan, subjects, on_rows=lambda _n: heartbeat())
    returned = [n.address for n in plan.nodes if n.action == "return"]
    outcomes, sealed = [], {}
    for subject in subjects:
        rows = found.get(subject.seq, {})
        mine = {a: rows.get(a, []) for a in returned}
        lines = [CollectionOutcome(a, rows_found=len(r)) for a, r in mine.items()]
        outcomes.append(Outcome(subject.seq, lines, found.problems.get(subject.seq)))
        sealed[subject.seq] = platform.vault.seal(job.id, to_json(mine))
    return outcomes, sealed


def finish(platform: Platform, job_id: str) -> str:
    """Mark a job with no chunk left COMPLETED (a canceled one stays so); its final status."""
    now = platform.clock()
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
        if uow.bulk.pending_chunks(job_id, 1):
            return job.status.value  # not finished: the workflow runs on
        if uow.bulk.set_status(job_id, BulkStatus.COMPLETED, now, unless=FINISHED):
            audit.record(uow, job_id, "bulk.completed", now, actor="system", **_counts(job))
            uow.commit()
            return BulkStatus.COMPLETED.value
    return job.status.value


def fail(platform: Platform, job_id: str, reason: str) -> str:
    """The job cannot go on (e.g. a system stayed down through every retry); `reason` names
    what failed, never data."""
    now = platform.clock()
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
        if uow.bulk.set_status(job_id, BulkStatus.FAILED, now, unless=FINISHED, reason=reason):
            audit.record(
                uow, job_id, "bulk.failed", now, actor="system", reason=reason, **_counts(job)
            )
            uow.commit()
            return BulkStatus.FAILED.value
    return job.status.value


def _counts(job: BulkJob) -> dict[str, int]:
    return {
        "subjects": job.subjects_total,
        "subjects_done": job.subjects_done,
        "subjects_failed": job.subjects_failed,
        "rows_found": job.rows_found,
        "rows_written": job.rows_written,
        "chunks_done": job.chunks_done,
    }
