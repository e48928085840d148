"""A throwaway redis-server for a test session.

`start_redis()` runs `redis-server` in a fresh temporary directory, listening only on 127.0.0.1
on a free port, without persistence. It raises RuntimeError when redis-server is not installed:
tests that need it must fail loudly, never skip.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


@dataclass
class RedisServer:
    """A running server; `stop()` kills it and removes its files (also done at exit)."""

    port: int
    root: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    stopped: bool = False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db))

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "redis-server not found on PATH; install it (apt-get install redis-server) — "
            "the redis connector tests need a real redis server"
        )
    return found


def start_redis(attempts: int = 3) -> RedisServer:
    """Start a fresh server; retry on another port if the chosen one was taken."""
    binary = find_redis_server()
    root = Path(tempfile.mkdtemp(prefix="rightsflow-redis-"))
    server = RedisServer(port=0, root=root)
    atexit.register(server.stop)
    try:
        for attempt in range(1, attempts + 1):
            server.port = _free_port()
            if _start(server, binary, last_try=attempt == attempts):
                return server
    except BaseException:
        server.stop()
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _start(server: RedisServer, binary: str, *, last_try: bool) -> bool:
    log = server.root / f"redis-{server.port}.log"
    args = [binary, "--port", str(server.port), "--bind", "127.0.0.1", "--dir", str(server.root),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
            "--logfile", str(log), "--daemonize", "no"]  # fmt: skip
    process = subprocess.Popen(
        args, cwd=server.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server.process = process
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with redis.Redis(port=server.port, socket_connect_timeout=1) as client:
                if client.ping():
                    return True
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    server.process = None
    if last_try:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"redis-server did not start on port {server.port}\n{tail}")
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
