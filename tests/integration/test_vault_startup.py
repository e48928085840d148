"""The vault's start-up pass over open requests (bootstrap.make_vault) on real SQLite databases:
requests received before data keys get theirs at start; once a start has seen every open request
keyed, later starts read no request at all, however many there are."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rightsflow.bootstrap import Runtime, build_runtime, make_vault
from rightsflow.config import Settings
from rightsflow.services.requests import NewRequest, submit
from rightsflow.storage.key_store import OPEN_KEYED, key_schema, unkeyed_open_requests
from rightsflow.storage.tables import privacy_requests
from tests.support.stack import make_shop

RECEIVED = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    _, mapdir = make_shop(tmp_path, customers=3)
    return Settings(data_dir=tmp_path / "data", datamap_dir=mapdir)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


def started(settings: Settings) -> Runtime:
    """A start of the platform (as serve or a worker does), closed again."""
    runtime = build_runtime(settings)
    runtime.close()
    return runtime


def old_request(n: int, status: str) -> dict[str, Any]:
    """A request row as a version before data keys left it: no key row anywhere."""
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}", "type": "access", "status": status,
        "regime": "gdpr", "policy_key": "default", "received_at": RECEIVED,
        "due_at": RECEIVED + timedelta(days=30), "attempt": 1, "identity_types": ["email"],
        "sealed_identities": b"sealed under the master key", "created_at": RECEIVED,
        "updated_at": RECEIVED, "source": "api",
    }  # fmt: skip


def add_rows(runtime: Runtime, rows: list[dict[str, Any]]) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(privacy_requests.insert(), rows)


def forget_flag(runtime: Runtime) -> None:
    with runtime.keys.engine.begin() as conn:
        conn.execute(key_schema.delete().where(key_schema.c.name == OPEN_KEYED))


def app_statements(runtime: Runtime) -> list[str]:
    """Statements the app database runs from now on (collected into the returned list)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa.event.listen(runtime.engine, "before_cursor_execute", record)
    return seen


def test_a_fresh_install_records_at_its_first_start_that_every_open_request_is_keyed(
    runtime: Runtime,
) -> None:
    assert runtime.keys.open_requests_keyed()


def test_requests_from_before_data_keys_get_theirs_at_start_then_the_scan_stops(
    settings: Settings, runtime: Runtime
) -> None:
    forget_flag(runtime)  # as a key database made by a version before the flag
    open_ones = [old_request(n, "awaiting_approval") for n in range(3)]
    add_rows(runtime, [*open_ones, old_request(3, "completed"), old_request(4, "failed")])
    runtime.close()

    first = started(settings)
    assert first.keys.counts() == {1: 4}  # the open ones (failed is still owed), not the closed
    assert not first.keys.open_requests_keyed()  # it keyed some: the next start checks again
    second = started(settings)
    assert second.keys.open_requests_keyed()
    assert second.keys.counts() == {1: 4}


def test_once_recorded_a_start_reads_no_request_however_many_are_open(
    runtime: Runtime, settings: Settings
) -> None:
    rows = [old_request(n, "awaiting_verification") for n in range(2_500)]
    add_rows(runtime, rows)
    runtime.keys.adopt((row["id"], os.urandom(60), 1) for row in rows)  # keyed, as on receipt
    forget_flag(runtime)
    statements = app_statements(runtime)

    make_vault(settings, runtime.engine, runtime.keys)
    scans = [s for s in statements if "privacy_requests" in s]
    assert len(scans) == 4  # 2,500 open requests, 1,000 at a time, then the empty batch
    assert runtime.keys.open_requests_keyed()

    statements.clear()
    make_vault(settings, runtime.engine, runtime.keys)
    assert statements == []


def test_a_scan_that_finds_unkeyed_requests_records_nothing_until_they_are_keyed(
    runtime: Runtime,
) -> None:
    forget_flag(runtime)
    add_rows(runtime, [old_request(n, "received") for n in range(2)])
    ids = [old_request(n, "received")["id"] for n in range(2)]
    # A start that failed before keying them: the next one finds them again.
    assert unkeyed_open_requests(runtime.engine, runtime.keys) == ids
    assert unkeyed_open_requests(runtime.engine, runtime.keys) == ids
    assert not runtime.keys.open_requests_keyed()

    assert runtime.platform.vault.ensure_keys(ids) == 2
    assert unkeyed_open_requests(runtime.engine, runtime.keys) == []
    assert runtime.keys.open_requests_keyed()
    runtime.keys.record_open_requests_keyed()  # a second process racing to record it is fine


def test_requests_received_after_the_flag_are_keyed_on_receipt(runtime: Runtime) -> None:
    request, _ = submit(runtime.platform, NewRequest("access", {"email": "a@example.com"}, "gdpr"))
    assert runtime.keys.keyed([request.id]) == {request.id}
    forget_flag(runtime)
    assert unkeyed_open_requests(runtime.engine, runtime.keys) == []
