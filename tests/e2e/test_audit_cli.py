"""`rightsflow audit verify` and `rightsflow audit export` in a subprocess, against an app
database (SQLite in a data dir, or PostgreSQL through a settings file) written by the app's
own unit of work and then tampered with directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.domain.records import AuditEvent
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import audit_events
from rightsflow.storage.uow import SqlUnitOfWork
from tests.support.postgres import PostgresServer, start_postgres

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RID, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
_ae = audit_events.c


@dataclass
class Trail:
    engine: Engine
    where: list[str]  # the CLI options that find this database


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def trail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Trail]:
    """A database holding 6 events (4 of RID, 2 of OTHER by operator:ann)."""
    if request.param == "sqlite":
        url, where = f"sqlite:///{tmp_path / 'rightsflow.db'}", ["--data-dir", str(tmp_path)]
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        name = f"rf_cli_{uuid.uuid4().hex[:10]}"
        server.create_database(name)
        url = server.url(name)
        config = tmp_path / "settings.toml"
        config.write_text(f'data_dir = "{tmp_path}"\ndatabase_url = "{url}"\n')
        where = ["--config", str(config)]
    upgrade_database(url)
    engine = make_engine(url)
    with SqlUnitOfWork(engine) as uow:
        for i in range(4):
            uow.audit.append(AuditEvent(RID, "request.status_changed", T0 + timedelta(hours=i)))
        for _ in range(2):
            uow.audit.append(AuditEvent(OTHER, "package.downloaded", T0, "operator:ann"))
        uow.commit()
    yield Trail(engine, where)
    engine.dispose()


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "rightsflow.cli.main", "audit", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_verify_an_intact_trail(trail: Trail) -> None:
    result = cli("verify", *trail.where)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ok: 6 events, chain intact"
    assert lines[1].startswith("head: event 6, sha256 ")


def test_verify_names_the_first_broken_event(trail: Trail) -> None:
    with trail.engine.begin() as conn:
        conn.execute(audit_events.update().where(_ae.id == 3).values(detail={"rows": 0}))
        conn.execute(audit_events.delete().where(_ae.id == 5))
    result = cli("verify", *trail.where)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "broken: event 3 (2026-03-01T14:00:00.000000Z, request.status_changed) edited: "
        "its content no longer matches its hash",
        "2 events before it are intact",
    ]
    with trail.engine.begin() as conn:  # mend 3 by hand; the deletion is next in line
        conn.execute(audit_events.update().where(_ae.id == 3).values(detail={}))
    result = cli("verify", *trail.where)
    assert result.returncode == 1
    assert result.stdout.startswith("broken: event 6 (2026-03-01T12:00:00.000000Z, ")
    assert "deleted: events missing before it (ids 5)" in result.stdout


def test_verify_cannot_read_is_exit_2(tmp_path: Path) -> None:
    missing = cli("verify", "--data-dir", tmp_path)
    assert missing.returncode == 2
    assert "no app database" in missing.stderr
    assert not (tmp_path / "rightsflow.db").exists()  # reading created nothing
    (tmp_path / "rightsflow.db").write_bytes(b"not a database at all" * 100)
    garbage = cli("verify", "--data-dir", tmp_path)
    assert garbage.returncode == 2
    assert "cannot read the audit trail" in garbage.stderr
    other = tmp_path / "other"
    other.mkdir()
    with sa.create_engine(f"sqlite:///{other / 'rightsflow.db'}").begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (id INTEGER)")
    unmigrated = cli("verify", "--data-dir", other)
    assert unmigrated.returncode == 2
    assert "cannot read the audit trail (OperationalError)" in unmigrated.stderr


def test_export_writes_filtered_json_lines(trail: Trail, tmp_path: Path) -> None:
    out = tmp_path / "trail.jsonl"
    result = cli("export", *trail.where, "--actor", "operator:ann", "--output", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "exported 2 events"
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["id"], e["request_id"], e["actor"]) for e in events] == [
        (5, OTHER, "operator:ann"),
        (6, OTHER, "operator:ann"),
    ]
    assert events[1]["prev_hash"] == events[0]["hash"]
    window = ["--since", "2026-03-01T13:00:00Z", "--until", "2026-03-01T15:00:00+00:00"]
    stdout = cli("export", *trail.where, "--request", RID, *window)
    assert [json.loads(line)["id"] for line in stdout.stdout.splitlines()] == [2, 3]


@pytest.mark.parametrize(
    ("option", "value"), [("--since", "yesterday"), ("--until", "2026-03-01T12:00:00")]
)
def test_export_refuses_bad_times(tmp_path: Path, option: str, value: str) -> None:
    result = cli("export", "--data-dir", tmp_path, option, value)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: invalid {option}: ")
