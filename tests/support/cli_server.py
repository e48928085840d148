"""A `rightsflow` server command (`serve`, `demo`) in a child process: started with its output in
a log file, waited for until /readyz answers 200, stopped as Ctrl-C would (which stops the
Temporal dev server it started too)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "rightsflow.cli.main"]


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    """Until `base`/readyz answers 200; fails with the log if the process ends or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/readyz", timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"`rightsflow` did not become ready:\n{log.read_text()}")


@contextmanager
def cli_server(
    args: list[str], base: str, log: Path, env: dict[str, str], ready_within: float = 120
) -> Iterator[subprocess.Popen[bytes]]:
    """`rightsflow <args>` (which must listen at `base`), ready, until the block ends."""
    with log.open("wb") as out:
        proc = subprocess.Popen([*CLI, *args], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(base, proc, log, ready_within)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
