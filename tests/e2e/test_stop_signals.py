"""`serve` stops everything it started on SIGTERM too (what `kill` and service managers send)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap
from rightsflow.workflows.devserver import free_port

pytestmark = [pytest.mark.temporal, pytest.mark.slow]


def test_sigterm_stops_the_api_and_the_temporal_dev_server(tmp_path: Path) -> None:
    db, mapdir, data_dir = tmp_path / "shop.db", tmp_path / "map", tmp_path / "data"
    create_shop_sqlite(db, customers=5)
    write_shop_datamap(mapdir, db)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rightsflow.cli.main",
            "serve",
            "--data-dir",
            str(data_dir),
            "--datamap",
            str(mapdir),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
    finally:
        proc.kill()
        log.close()
    left = subprocess.run(
        ["pgrep", "-f", str(data_dir / "temporal.sqlite")], capture_output=True, check=False
    )
    assert left.stdout == b""
