"""/api/v1/retention over real HTTP on a real runtime (SQLite): rules, a dry run, "run now"
through a launcher, run reports, and problems for unknown rules and runs."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.services import sweeps
from tests.support.http_server import serve
from tests.support.sweep_stack import SweepStack, create_logins, rules, sweep_stack
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, all_ok

BASE = "/api/v1/retention"


class InlineLauncher:
    """Carries a recorded run out at once, in this process (the engine's work, minus Temporal)."""

    def __init__(self, stack: SweepStack) -> None:
        self.stack = stack

    async def launch(self, rule_key: str, run_id: str) -> None:
        run = sweeps.get(self.stack.sweeps, run_id)
        assert run.rule == rule_key
        while run.pending is not None:
            run = sweeps.chunk(self.stack.sweeps, run_id)
        sweeps.finish(self.stack.sweeps, run_id)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SweepStack]:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    create_logins(url, 23, 30)
    stack = sweep_stack(tmp_path, url, rules())
    yield stack
    stack.close()


def app_for(stack: SweepStack, launcher: InlineLauncher | None) -> FastAPI:
    deps = ApiDeps(
        platform=stack.runtime.platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
        sweeps=launcher,
    )
    return create_app(Settings(data_dir=stack.runtime.settings.data_dir), deps)


def test_rules_dry_run_run_and_reports(stack: SweepStack) -> None:
    app = app_for(stack, InlineLauncher(stack))
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH) as http:
        [rule] = http.get(f"{BASE}/rules").json()["items"]
        assert rule == {
            "key": "old_logins",
            "target": "logs.login_events",
            "age_field": "ts",
            "max_age": "90 days",
            "action": "delete",
            "schedule": "daily at 03:00",
            "cron": "0 3 * * *",
            "collections": ["logs:login_events"],
        }
        dry = http.post(f"{BASE}/rules/old_logins/dry-run")
        assert dry.status_code == 200
        assert (dry.json()["dry_run"], dry.json()["totals"]["matched"]) == (True, 23)
        started = http.post(f"{BASE}/rules/old_logins/run")
        assert started.status_code == 202
        run = http.get(f"{BASE}/runs/{started.json()['id']}").json()
        assert (run["status"], run["totals"]["deleted"]) == ("completed", 23)
        assert run["collections"][0]["collection"] == "logs:login_events"
        listed = http.get(f"{BASE}/runs", params={"rule": "old_logins"}).json()["items"]
        assert [r["id"] for r in listed] == [run["id"], dry.json()["id"]]
        assert "person" not in str(listed)  # counts only
        unknown = http.post(f"{BASE}/rules/nope/run")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert http.get(f"{BASE}/runs/no-such-run").status_code == 404


def test_run_now_without_an_engine_is_a_conflict(stack: SweepStack) -> None:
    app = app_for(stack, None)
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH) as http:
        answer = http.post(f"{BASE}/rules/old_logins/run")
        assert answer.status_code == 409
        assert sweeps.runs(stack.sweeps) == []  # nothing recorded
