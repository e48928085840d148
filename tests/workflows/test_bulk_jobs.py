"""Bulk jobs on the Temporal dev server: chunks of an erase job on the SQLite shop, receipts,
continue-as-new, cancel, and a worker killed mid-job resuming from the last finished chunk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.domain.bulk import BulkStatus
from rightsflow.domain.signature import load_public_key, verify_document
from rightsflow.sample.shop import email_for
from rightsflow.services import bulk_jobs, bulk_receipt
from rightsflow.workflows.devserver import DevServer
from tests.support.bulk_stack import bulk_starter, new_job, wait_job
from tests.support.stack import make_shop, rows, running_stack, stack_settings

pytestmark = [pytest.mark.temporal, pytest.mark.slow]


async def test_an_erase_job_runs_every_chunk_and_each_subject_gets_a_signed_receipt(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path, customers=300)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        platform = stack.runtime.platform
        # 250 subjects in chunks of 100, two chunks per run: one continue-as-new on the way.
        job = new_job(platform, range(1, 251))
        assert (job.subjects_total, job.chunks_total) == (250, 3)
        await bulk_starter(temporal_client, settings, chunks_per_run=2).start(job.id)
        assert await wait_job(temporal_client, job.id) == "completed"
        view = bulk_jobs.view(platform, job.id)
        assert view.job.status is BulkStatus.COMPLETED
        assert (view.job.subjects_done, view.job.subjects_failed) == (250, 0)
        assert view.job.rows_written > 250
        assert view.progress.fraction == 1.0
        assert view.progress.rate
        key = load_public_key(platform.signer.public_key_pem())
        for seq in range(2, 252):  # line 1 is the header
            receipt = bulk_receipt.signed(platform, job.id, seq)
            assert verify_document(receipt, [key]), seq
            assert receipt["verified"], receipt
        failed = bulk_jobs.subjects(platform, job.id, "failed", None, 10)
        assert failed == []
    erased = [email_for(i) for i in range(1, 251)]
    marks = ",".join("?" * len(erased))
    assert rows(db, f"SELECT count(*) FROM customers WHERE email IN ({marks})", *erased) == [(0,)]
    assert rows(db, "SELECT count(*) FROM customers WHERE email = ?", email_for(251)) == [(1,)]


async def test_a_canceled_job_stops_and_runs_no_chunk(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    _db, mapdir = make_shop(tmp_path, customers=50)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    runtime = build_runtime(settings)
    try:
        job = new_job(runtime.platform, range(1, 41), chunk_size=10)
        bulk_jobs.cancel(runtime.platform, job.id, "user:test")
    finally:
        runtime.close()
    async with running_stack(settings, temporal_client) as stack:
        await bulk_starter(temporal_client, settings).start(job.id)
        assert await wait_job(temporal_client, job.id) == "stopped"
        view = bulk_jobs.view(stack.runtime.platform, job.id)
    assert view.job.status is BulkStatus.CANCELED
    assert view.job.chunks_done == 0


# Every real change of a personal value is logged, so a chunk erased twice would show up.
ERASE_LOG = """
CREATE TABLE erase_log (tbl TEXT, row_id INTEGER);
CREATE TRIGGER c_erased AFTER UPDATE ON customers
  WHEN old.email IS NOT new.email OR old.name IS NOT new.name OR old.phone IS NOT new.phone
  BEGIN INSERT INTO erase_log VALUES ('customers', old.id); END;
"""


def _worker(settings: Settings, module: str, marker: Path | None) -> subprocess.Popen[bytes]:
    raw = json.loads(settings.model_dump_json())
    return subprocess.Popen(
        [sys.executable, "-m", module, json.dumps(raw), str(marker or "")],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


async def _kill_when(process: subprocess.Popen[bytes], marker: Path) -> None:
    try:
        for _ in range(900):
            if await asyncio.to_thread(marker.exists):
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(marker.exists), (
            "the worker never reached the second chunk's erase"
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        process.kill()


async def test_a_worker_killed_mid_job_resumes_from_the_last_finished_chunk(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path, customers=300)
    with sqlite3.connect(db) as conn:
        conn.executescript(ERASE_LOG)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address, step_timeout_s=3.0)
    runtime = build_runtime(settings)
    try:
        platform = runtime.platform
        job = new_job(platform, range(1, 251))
        marker = tmp_path / "erasing"
        first = _worker(settings, "tests.support.bulk_crash_worker", marker)
        await bulk_starter(temporal_client, settings).start(job.id)
        await _kill_when(first, marker)
        stalled = bulk_jobs.view(platform, job.id).job
        assert (stalled.status, stalled.chunks_done) == (BulkStatus.RUNNING, 1)
        second = _worker(settings, "tests.support.crash_worker", None)
        try:
            assert await wait_job(temporal_client, job.id, 120) == "completed"
        finally:
            second.terminate()
            second.wait()
        done = bulk_jobs.view(platform, job.id).job
        assert (done.chunks_done, done.subjects_done, done.subjects_failed) == (3, 250, 0)
        assert all(bulk_receipt.signed(platform, job.id, s)["verified"] for s in range(2, 252))
        with platform.uow() as uow:
            events = uow.audit.for_request(job.id)
        chunks = [e.detail["chunk"] for e in events if e.action == "bulk.chunk_done"]
        assert sorted(chunks) == [0, 1, 2]  # chunk 0 was not run again
    finally:
        runtime.close()
    assert rows(db, "SELECT count(*) FROM customers WHERE email LIKE 'customer%'") == [(50,)]
    # Each customer row was changed once, the re-run chunk's included.
    assert rows(db, "SELECT count(*), count(DISTINCT row_id) FROM erase_log") == [(250, 250)]
