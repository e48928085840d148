"""`rightsflow report` in a subprocess prints what the API answers, over the same SQLite app
database (the hand-counted year of tests/support/report_data.py)."""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.uow import SqlUnitOfWorkFactory
from tests.support.report_data import seed_requests
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, TestClient, all_ok, make_platform


@dataclasses.dataclass
class Served:
    data_dir: Path
    client: TestClient


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("reports") / "data"
    settings = Settings(data_dir=data_dir)
    data_dir.mkdir()
    upgrade_database(settings.app_database_url)
    engine = make_engine(settings.app_database_url)
    seed_requests(engine)
    platform, _ = make_platform()
    # The same wall clock as the CLI, so "open and overdue now" means the same thing.
    platform = dataclasses.replace(
        platform, uow=SqlUnitOfWorkFactory(engine), clock=lambda: datetime.now(UTC)
    )
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    with TestClient(create_app(settings, deps), headers=AUTH) as client:
        yield Served(data_dir, client)
    engine.dispose()


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "rightsflow.cli.main", "report", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "generated_at"}


def test_ccpa_json_and_csv_are_the_apis(served: Served, tmp_path: Path) -> None:
    api = served.client.get("/api/v1/reports/ccpa", params={"year": 2026}).json()
    run = _cli("ccpa", "--year", "2026", "--data-dir", served.data_dir, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert _without_time(printed) == _without_time(api)
    assert printed["rows"][-1]["received"] == 23  # the hand count (integration test)
    api_csv = served.client.get("/api/v1/reports/ccpa", params={"year": 2026, "format": "csv"})
    out = tmp_path / "ccpa-2026.csv"
    run = _cli("ccpa", "--year", "2026", "--format", "csv", "--output", out,
               "--data-dir", served.data_dir, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert f"wrote {out}" in run.stderr
    assert out.read_text(encoding="utf-8") == api_csv.text


def test_summary_json_and_csv_are_the_apis(served: Served, tmp_path: Path) -> None:
    params = {"from": "2026-03-08", "to": "2026-03-08", "tz": "America/Los_Angeles"}
    flags = ["--from", "2026-03-08", "--to", "2026-03-08", "--tz", "America/Los_Angeles"]
    api = served.client.get("/api/v1/reports/summary", params=params).json()
    run = _cli("summary", *flags, "--data-dir", served.data_dir, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert _without_time(json.loads(run.stdout)) == _without_time(api)
    assert [(r["regime"], r["type"]) for r in api["rows"]] == [
        ("ccpa", "erasure"),
        ("gdpr", "erasure"),
        ("all", "all"),
    ]
    api_csv = served.client.get("/api/v1/reports/summary", params={**params, "format": "csv"})
    run = _cli("summary", *flags, "--format", "csv", "--data-dir", served.data_dir, cwd=tmp_path)
    assert run.stdout == api_csv.text


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["ccpa", "--year", "1999"], "--year"),
        (["ccpa", "--year", "2026", "--format", "xml"], "--format"),
        (["summary", "--from", "2026-02-01", "--to", "2026-01-01"], "--to"),
    ],
)
def test_bad_options_fail_naming_the_flag(
    served: Served, tmp_path: Path, args: list[str], flag: str
) -> None:
    run = _cli(*args, "--data-dir", served.data_dir, cwd=tmp_path)
    assert run.returncode == 1
    assert run.stdout == ""
    assert flag in run.stderr


def test_no_database_is_an_error_and_none_is_created(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    run = _cli("ccpa", "--year", "2026", "--data-dir", empty, cwd=tmp_path)
    assert run.returncode == 1
    assert "no app database" in run.stderr
    assert not (empty / "rightsflow.db").exists()
