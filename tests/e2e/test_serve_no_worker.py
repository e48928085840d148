"""`serve --no-worker`: the API alone, for scale-out setups where `rightsflow worker`s poll."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap
from rightsflow.workflows.devserver import DevServer, free_port

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
CLI = [sys.executable, "-m", "rightsflow.cli.main"]


@pytest.fixture
def temporal(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "temporal").mkdir()
    with DevServer(tmp_path / "temporal", headless=True) as server:
        yield server.address


def _readiness(base: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    """The first /readyz answer once the API listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/readyz", timeout=10)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the API did not start")


def _ready_within(base: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(f"{base}/readyz", timeout=10).status_code == 200:
            return True
        time.sleep(0.3)
    return False


def test_no_worker_serves_the_api_and_a_separate_worker_makes_it_ready(
    tmp_path: Path, temporal: str
) -> None:
    db, mapdir, data_dir = tmp_path / "shop.db", tmp_path / "map", tmp_path / "data"
    create_shop_sqlite(db, customers=5)
    write_shop_datamap(mapdir, db)
    common = ["--data-dir", str(data_dir), "--datamap", str(mapdir), "--temporal-address", temporal]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    with serve_log.open("wb") as out:
        serve = subprocess.Popen(
            [*CLI, "serve", *common, "--port", str(port), "--no-worker"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    worker: subprocess.Popen[bytes] | None = None
    try:
        first = _readiness(base, serve, serve_log)
        # Nothing polls the task queue: the API says so instead of accepting work silently.
        assert first.status_code == 503
        assert first.json()["components"]["worker"].startswith("no worker polling")
        with worker_log.open("wb") as out:
            worker = subprocess.Popen([*CLI, "worker", *common], stdout=out, stderr=out)
        assert _ready_within(base, 60), worker_log.read_text()
    finally:
        for proc in (serve, worker):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


def test_no_worker_without_a_temporal_address_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "serve", "--data-dir", str(tmp_path / "data"), "--no-worker"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "--no-worker needs --temporal-address" in done.stderr
