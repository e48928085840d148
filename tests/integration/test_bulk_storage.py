"""Bulk jobs' storage and steps on SQLite and PostgreSQL app databases (no workflow engine):
intake, refusal, chunks run once, cancel between chunks, subjects, receipts, access rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from rightsflow.bootstrap import Runtime
from rightsflow.domain.bulk import BulkKind, BulkStatus, BulkSubject
from rightsflow.domain.bulk_jobs import BulkJob
from rightsflow.domain.errors import NotFound, RightsflowError
from rightsflow.sample.shop import email_for
from rightsflow.services import bulk_jobs, bulk_receipt, bulk_run
from rightsflow.services.bulk_intake import BadFile, NewBulkJob, intake, seal_chunk
from tests.support.bulk_stack import csv_lines, new_job
from tests.support.db_runtime import DB_KINDS, runtime_on
from tests.support.stack import rows

pytestmark = pytest.mark.slow


@pytest.fixture(params=DB_KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_on(request, tmp_path, customers=300, prefix="bulk") as runtime:
        yield runtime


def _no_op() -> None:
    pass


def _count(runtime: Runtime, table: str) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_chunks_run_once_in_order_and_counts_add_up(runtime: Runtime, tmp_path: Path) -> None:
    platform = runtime.platform
    job = new_job(platform, range(1, 251))
    assert bulk_run.begin(platform, job.id, 10) == [0, 1, 2]
    assert bulk_jobs.view(platform, job.id).job.status is BulkStatus.RUNNING
    first = bulk_run.run_chunk(platform, job.id, 0, _no_op)
    assert (first.stop, first.subjects, first.failed) == (False, 100, 0)
    again = bulk_run.run_chunk(platform, job.id, 0, _no_op)  # a done chunk is skipped
    assert again.subjects == 0
    view = bulk_jobs.view(platform, job.id)
    assert (view.job.subjects_done, view.job.chunks_done) == (100, 1)
    assert view.progress.fraction == pytest.approx(0.4)
    assert bulk_run.begin(platform, job.id, 10) == [1, 2]  # resumes after the done chunk
    for chunk_no in (1, 2):
        bulk_run.run_chunk(platform, job.id, chunk_no, _no_op)
    assert bulk_run.finish(platform, job.id) == "completed"
    done = bulk_jobs.view(platform, job.id)
    assert (done.job.subjects_done, done.job.subjects_failed, done.progress.eta_s) == (250, 0, None)
    page = bulk_jobs.subjects(platform, job.id, None, 200, 10)
    assert [s.seq for s in page] == list(range(201, 211))
    assert bulk_jobs.subjects(platform, job.id, "failed", None, 10) == []
    receipt = bulk_receipt.signed(platform, job.id, 42)
    assert receipt["verified"]
    assert receipt["seq"] == 42
    assert email_for(41) not in json.dumps(receipt)
    with pytest.raises(NotFound):
        bulk_receipt.signed(platform, job.id, 1)  # the header line has no subject
    shop = tmp_path / "shop.db"
    erased = [email_for(i) for i in range(1, 251)]
    marks = ",".join("?" * len(erased))
    assert rows(shop, f"SELECT count(*) FROM customers WHERE email IN ({marks})", *erased) == [(0,)]
    assert rows(shop, "SELECT count(*) FROM customers WHERE email = ?", email_for(251)) == [(1,)]


def test_cancel_stops_before_the_next_chunk(runtime: Runtime) -> None:
    platform = runtime.platform
    job = new_job(platform, range(1, 31), chunk_size=10)
    bulk_run.begin(platform, job.id, 10)
    bulk_run.run_chunk(platform, job.id, 0, _no_op)
    canceled = bulk_jobs.cancel(platform, job.id, "user:op")
    assert canceled.status is BulkStatus.CANCELED
    assert bulk_run.run_chunk(platform, job.id, 1, _no_op).stop
    assert bulk_run.begin(platform, job.id, 10) is None
    assert bulk_run.finish(platform, job.id) == "canceled"
    with pytest.raises(RightsflowError, match="already canceled"):
        bulk_jobs.cancel(platform, job.id, "user:op")
    with platform.uow() as uow:
        actions = [e.action for e in uow.audit.for_request(job.id)]
    assert actions == ["bulk.created", "bulk.chunk_done", "bulk.canceled"]


def test_a_bad_file_leaves_nothing_and_its_key_is_destroyed(runtime: Runtime) -> None:
    platform = runtime.platform
    lines = [*csv_lines(range(1, 2501)), "not-an-email\n"]
    with pytest.raises(BadFile) as refused:
        intake(platform, NewBulkJob("erase", "csv", "user:op", chunk_size=1000), lines)
    assert [(b.line, b.reason) for b in refused.value.lines] == [
        (2502, "email: not a valid email address")
    ]
    assert [_count(runtime, t) for t in ("bulk_jobs", "bulk_chunks", "bulk_subjects")] == [0, 0, 0]
    assert bulk_jobs.list_jobs(platform, None, 10) == []


def test_duplicates_are_dropped_and_jobs_page_newest_first(runtime: Runtime) -> None:
    platform = runtime.platform
    first = new_job(platform, [1, 2, 2, 3, 1])
    assert (first.subjects_total, first.duplicates, first.chunks_total) == (3, 2, 1)
    second = new_job(platform, [4])
    page = bulk_jobs.list_jobs(platform, None, 1)
    assert [v.job.id for v in page] == [second.id]
    after = (page[0].job.created_at, page[0].job.id)
    assert [v.job.id for v in bulk_jobs.list_jobs(platform, after, 5)] == [first.id]


def test_an_access_job_keeps_each_subjects_rows_sealed_under_the_jobs_key(
    runtime: Runtime,
) -> None:
    platform = runtime.platform
    job = new_job(platform, range(1, 6), kind="access")
    bulk_run.begin(platform, job.id, 10)
    bulk_run.run_chunk(platform, job.id, 0, _no_op)
    with platform.uow() as uow:
        sealed = uow.bulk.sealed_rows(job.id, 2)
    assert sealed is not None
    assert email_for(1).encode() not in sealed
    found = json.loads(platform.vault.open(job.id, sealed))
    customers = next(rows for address, rows in found.items() if address.endswith(":customers"))
    assert [c["email"] for c in customers] == [email_for(1)]
    assert platform.vault.destroy_key(job.id)  # shredding the job
    with pytest.raises(RightsflowError):
        platform.vault.open(job.id, sealed)


class _Started:
    def __init__(self) -> None:
        self.jobs: list[str] = []

    async def start(self, job_id: str) -> None:
        self.jobs.append(job_id)


async def test_resume_starts_unfinished_jobs_and_forgets_cut_off_intakes(
    runtime: Runtime,
) -> None:
    platform = runtime.platform
    pending = new_job(platform, range(1, 4))
    cut_off = BulkJob(
        id=str(uuid.uuid4()),
        kind=BulkKind.ERASE,
        policy_key="default_erasure",
        regime="gdpr",
        status=BulkStatus.PENDING,
        created_by="user:op",
        created_at=platform.clock() - timedelta(hours=2),
        identity_types=(),
        chunk_size=10,
    )
    sealed = seal_chunk(platform.vault, cut_off.id, [BulkSubject(2, {"email": email_for(1)})])
    with platform.uow() as uow:
        uow.bulk.add_job(cut_off)
        uow.bulk.add_chunk(cut_off.id, 0, 1, sealed)
        uow.commit()
    started = _Started()
    assert await bulk_jobs.resume_unfinished(platform, started) == 1
    assert started.jobs == [pending.id]
    assert _count(runtime, "bulk_chunks") == 1  # the pending job's only
    with pytest.raises(RightsflowError):
        platform.vault.open(cut_off.id, sealed)
