"""Use cases on bulk jobs: create (intake, then start its workflow), read with progress, list,
list subject outcomes, cancel. The run itself is services/bulk_run.py; the intake is
services/bulk_intake.py; receipts are services/bulk_receipt.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rightsflow.domain.bulk import BulkStatus
from rightsflow.domain.bulk_jobs import FINISHED, BulkJob, Progress, SubjectRecord, progress
from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.services import audit
from rightsflow.services.bulk_intake import NewBulkJob, discard, intake
from rightsflow.services.platform import Platform
from rightsflow.services.ports import BulkStarter

SUBJECT_STATUSES = ("done", "failed")
# An intake still unfinished after this long was cut off (its process stopped): uploads of a
# million lines take about a minute.
ABANDONED_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class JobView:
    job: BulkJob
    progress: Progress


async def create_and_start(
    platform: Platform, starter: BulkStarter, new: NewBulkJob, lines: Iterable[str]
) -> BulkJob:
    """Intake (in a thread: it reads `lines`, which may wait on the event loop for the
    upload's next chunk), then start. If the start fails the job stays PENDING, and
    `resume_unfinished` starts it on the next start of the platform."""
    job = await asyncio.to_thread(intake, platform, new, lines)
    await starter.start(job.id)
    return job


def view(platform: Platform, job_id: str) -> JobView:
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
    return view_of(platform, job)


def view_of(platform: Platform, job: BulkJob) -> JobView:
    """A job already read (e.g. the one `cancel` returns), with its progress now."""
    return JobView(job, progress(job, platform.clock()))


def list_jobs(
    platform: Platform, after: tuple[datetime, str] | None, limit: int
) -> Sequence[JobView]:
    with platform.uow() as uow:
        jobs = uow.bulk.list_jobs(after, limit)
    now = platform.clock()
    return [JobView(j, progress(j, now)) for j in jobs]


def subjects(
    platform: Platform, job_id: str, status: str | None, after: int | None, limit: int
) -> Sequence[SubjectRecord]:
    if status is not None and status not in SUBJECT_STATUSES:
        raise InvalidInput(f"expected one of: {', '.join(SUBJECT_STATUSES)}", field="status")
    with platform.uow() as uow:
        uow.bulk.get_job(job_id)  # NotFound for an unknown job, not an empty page
        return uow.bulk.subjects(job_id, status, after, limit)


def cancel(platform: Platform, job_id: str, actor: str) -> BulkJob:
    """Stop the job: its workflow stops after the chunk it is running (whose outcomes are
    kept), and runs no further chunk."""
    now = platform.clock()
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
        if job.finished or not uow.bulk.set_status(
            job_id, BulkStatus.CANCELED, now, unless=FINISHED
        ):
            raise Conflict(f"the bulk job is already {job.status.value}")
        audit.record(
            uow,
            job_id,
            "bulk.canceled",
            now,
            actor=actor,
            subjects_done=job.subjects_done,
            subjects_total=job.subjects_total,
            chunks_done=job.chunks_done,
        )
        uow.commit()
        return uow.bulk.get_job(job_id)


async def resume_unfinished(platform: Platform, starter: BulkStarter) -> int:
    """Make sure every pending or running job has its workflow (after a crash or restart);
    forget the files whose intake stopped half-way (`ABANDONED_AFTER` ago or more)."""
    with platform.uow() as uow:
        pending = list(uow.bulk.unfinished())
        stale = list(uow.bulk.abandoned(platform.clock() - ABANDONED_AFTER))
    for job_id in stale:
        discard(platform, job_id)
    for job_id in pending:
        await starter.start(job_id)
    return len(pending)
