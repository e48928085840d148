"""Retention sweeps on real SQLite and PostgreSQL: a dry run counts exactly the old rows, a
run deletes or masks exactly them (younger rows stay), a run cut short resumes, connectors
that cannot find rows by age are reported, and every run is audited with counts only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rightsflow.services import sweeps
from rightsflow.services.audit_log import filter_from
from rightsflow.services.sweep_plan import rule_for
from rightsflow.storage.tables import metadata
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.sweep_stack import (
    SweepStack,
    create_logins,
    old_ids,
    read_logins,
    rules,
    sweep_stack,
)

OLD, YOUNG = 23, 30


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'logs.db'}"
    server: PostgresServer = request.getfixturevalue("pg")
    name = f"logs_{uuid.uuid4().hex[:8]}"
    server.create_database(name)
    return server.url(name).replace("postgresql://", "postgresql+psycopg://")


def stack_for(tmp_path: Path, url: str, action: str = "delete", **extra: object) -> SweepStack:
    create_logins(url, OLD, YOUNG)
    return sweep_stack(tmp_path, url.replace("+psycopg", ""), rules(action), **extra)


def test_dry_run_counts_exactly_the_old_rows_and_changes_nothing(
    tmp_path: Path, db_url: str
) -> None:
    stack = stack_for(tmp_path, db_url)
    try:
        before = read_logins(db_url)
        rule = rule_for(stack.runtime.platform, "old_logins")
        run = sweeps.begin(stack.sweeps, rule, dry_run=True, actor="test")
        assert run.collection("logs:login_events").matched == len(old_ids(db_url)) == OLD
        assert (run.status, run.dry_run) == ("completed", True)
        assert read_logins(db_url) == before
        assert sweeps.get(stack.sweeps, run.id).totals == {
            "matched": OLD,
            "deleted": 0,
            "masked": 0,
        }
    finally:
        stack.close()


def test_a_run_deletes_exactly_the_old_rows_in_chunks(tmp_path: Path, db_url: str) -> None:
    stack = stack_for(tmp_path, db_url)
    try:
        old, before = old_ids(db_url), read_logins(db_url)
        seen: list[int] = []
        rule = rule_for(stack.runtime.platform, "old_logins")
        run = sweeps.sweep(
            stack.sweeps, rule, actor="test", on_chunk=lambda r: seen.append(r.totals["deleted"])
        )
        assert run.status == "completed"
        assert run.collection("logs:login_events").deleted == OLD
        assert set(read_logins(db_url)) == set(before) - old
        assert seen[:3] == [7, 14, 21]  # chunks of 7 rows, each saved
        assert all(c.cursor is None for c in run.collections)  # forgotten at the end
        again = sweeps.sweep(stack.sweeps, rule, actor="test")
        assert again.totals == {"matched": 0, "deleted": 0, "masked": 0}
    finally:
        stack.close()


def test_a_mask_run_masks_the_old_rows_per_the_erasure_policy(tmp_path: Path, db_url: str) -> None:
    stack = stack_for(tmp_path, db_url, action="mask")
    try:
        old, before = old_ids(db_url), read_logins(db_url)
        rule = rule_for(stack.runtime.platform, "old_logins")
        run = sweeps.sweep(stack.sweeps, rule, actor="test")
        assert run.collection("logs:login_events").masked == OLD
        after = read_logins(db_url)
        assert set(after) == set(before)  # no row deleted
        for key, (email, ip) in after.items():
            if key in old:  # default_erasure nulls contact data and IP addresses
                assert (email, ip) == (None, None)
            else:
                assert (email, ip) == before[key]
        again = sweeps.sweep(stack.sweeps, rule, actor="test")  # guarded: nothing twice
        assert again.collection("logs:login_events").masked == 0
    finally:
        stack.close()


def test_a_run_cut_short_resumes_where_it_stood(tmp_path: Path, db_url: str) -> None:
    stack = stack_for(tmp_path, db_url, action="mask")
    try:
        old = old_ids(db_url)
        rule = rule_for(stack.runtime.platform, "old_logins")
        run = sweeps.begin(stack.sweeps, rule, dry_run=False, actor="test")
        for _ in range(2):
            sweeps.chunk(stack.sweeps, run.id)
        stack.close()  # the process dies here
        stack = sweep_stack(tmp_path, stack.url, rules("mask"))
        resumed = sweeps.get(stack.sweeps, run.id)
        assert resumed.collection("logs:login_events").masked == 14
        while resumed.pending is not None:
            resumed = sweeps.chunk(stack.sweeps, run.id)
        done = sweeps.finish(stack.sweeps, run.id)
        assert (done.status, done.totals["masked"]) == ("completed", OLD)
        masked = {k for k, (email, _ip) in read_logins(db_url).items() if email is None}
        assert masked == old
    finally:
        stack.close()


def test_systems_that_cannot_find_rows_by_age_are_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    create_logins(url, OLD, YOUNG)
    stack = sweep_stack(tmp_path, url, rules("delete", target="user.device.ip_address"))
    try:
        rule = rule_for(stack.runtime.platform, "old_logins")
        assert rule.collections == ("crm:devices", "logs:login_events")
        run = sweeps.sweep(stack.sweeps, rule, actor="test")
        crm = run.collection("crm:devices")
        assert crm.reason == "connector kind 'memory' cannot find rows by age"
        assert (crm.sweepable, crm.matched) == (False, 0)
        assert run.collection("logs:login_events").deleted == OLD
        with stack.runtime.platform.uow() as uow:
            events = uow.audit.search(filter_from(action=sweeps.FINISHED), None, 10)
        [finished] = events
        assert finished.detail["collections"]["crm:devices"]["not_sweepable"] == crm.reason
        assert finished.detail["collections"]["logs:login_events"]["deleted"] == OLD
        assert "person" not in str(finished.detail)  # counts only, never values
    finally:
        stack.close()


def test_the_report_tables_match_the_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    create_logins(url, 1, 1)
    stack = sweep_stack(tmp_path, url, rules())
    try:
        with stack.runtime.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            mine = {"sweep_runs", "sweep_run_collections"}
            diffs = [d for d in compare_metadata(context, metadata) if _table_of(d) in mine]
            assert diffs == []
            assert mine <= set(sa.inspect(conn).get_table_names())
    finally:
        stack.close()


def _table_of(diff: object) -> str | None:
    first = diff[0] if isinstance(diff, list) else diff
    for part in first if isinstance(first, tuple) else ():
        name = getattr(part, "name", None) or getattr(getattr(part, "table", None), "name", None)
        if isinstance(name, str):
            return name
    return None
