"""Durability: a worker killed mid-erasure, and a target database that is down."""

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

from rightsflow.bootstrap import build_runtime, step_policy
from rightsflow.config import Settings
from rightsflow.services import receipt
from rightsflow.services.requests import NewRequest, detail, retry, submit_and_start
from rightsflow.workflows.devserver import DevServer
from rightsflow.workflows.starter import TemporalStarter
from tests.support.stack import make_shop, rows, running_stack, stack_settings

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
EMAIL = "customer0000042@shop.example"
# Every real change of a personal value is logged, so a second erase would show up.
AUDIT_TRIGGERS = """
CREATE TABLE erase_log (tbl TEXT, row_id INTEGER);
CREATE TRIGGER c_erased AFTER UPDATE ON customers
  WHEN old.email IS NOT new.email OR old.name IS NOT new.name OR old.phone IS NOT new.phone
  BEGIN INSERT INTO erase_log VALUES ('customers', old.id); END;
CREATE TRIGGER a_erased AFTER UPDATE ON addresses
  WHEN old.street IS NOT new.street OR old.city IS NOT new.city
  BEGIN INSERT INTO erase_log VALUES ('addresses', old.id); END;
CREATE TRIGGER l_erased AFTER UPDATE ON login_events
  WHEN old.customer_email IS NOT new.customer_email OR old.ip IS NOT new.ip
  BEGIN INSERT INTO erase_log VALUES ('login_events', old.id); END;
"""


def _worker(settings: Settings, marker: Path | None) -> subprocess.Popen[bytes]:
    raw = json.loads(settings.model_dump_json())
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_worker", json.dumps(raw), str(marker or "")],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


async def test_worker_killed_mid_erasure_resumes_and_erases_each_row_once(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.executescript(AUDIT_TRIGGERS)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address, step_timeout_s=3.0)
    runtime = build_runtime(settings)  # migrates the app database before the worker starts
    starter = TemporalStarter(temporal_client, settings.task_queue, step_policy(settings))
    marker = tmp_path / "erasing"
    first = _worker(settings, marker)
    try:
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(runtime.platform, starter, new)
        for _ in range(300):
            if marker.exists():
                break
            await asyncio.sleep(0.1)
        assert marker.exists(), "the worker never reached an erase"
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
    second = _worker(settings, None)
    try:
        handle = temporal_client.get_workflow_handle(f"privacy-request-{request.id}")
        assert await asyncio.wait_for(handle.result(), 90) == "completed"
    finally:
        second.terminate()
        second.wait()
    log = rows(db, "select tbl, row_id, count(*) from erase_log group by tbl, row_id")
    assert log, "nothing was erased"
    assert all(count == 1 for _, _, count in log), "a row was erased twice"
    (customer_id,) = rows(db, "select id from customers where name = 'MASKED'")[0]
    assert ("customers", customer_id, 1) in log
    assert receipt.build(runtime.platform, request.id).verified
    runtime.close()


async def test_target_down_fails_clearly_then_retry_finishes_without_double_erasure(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.executescript(AUDIT_TRIGGERS)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        platform = stack.runtime.platform
        # The target database goes away before the request arrives.
        hidden = db.with_suffix(".away")
        db.rename(hidden)
        db.mkdir()  # a directory where the file was: SQLite cannot open it
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(platform, stack.starter, new)
        assert await stack.wait(request.id) == "failed"
        failed = detail(platform, request.id).request
        assert failed.failure_reason
        assert "unreachable" in failed.failure_reason or "cannot" in failed.failure_reason
        assert EMAIL not in failed.failure_reason
        db.rmdir()
        hidden.rename(db)
        await retry(platform, stack.starter, request.id, actor="test")
        assert await stack.wait(request.id) == "completed"
        assert receipt.build(platform, request.id).verified
    log = rows(db, "select tbl, row_id, count(*) from erase_log group by tbl, row_id")
    assert log
    assert all(count == 1 for _, _, count in log)
