"""Result pages on SQLite and PostgreSQL, and the migrations from 0001 that add them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from rightsflow.domain.errors import NotFound
from rightsflow.domain.records import NodeResult
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.storage.migrate import alembic_config, make_engine, upgrade, upgrade_database
from rightsflow.storage.tables import metadata
from rightsflow.storage.uow import SqlUnitOfWork
from tests.support.postgres import PostgresServer, start_postgres

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USERS = "app:users"


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"rf_pages_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.url(name)


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    upgrade_database(fresh_url)
    engine = make_engine(fresh_url)
    yield engine
    engine.dispose()


def add_request(engine: Engine) -> str:
    request = PrivacyRequest(
        id=str(uuid.uuid4()),
        type=RequestType.ACCESS,
        regime="gdpr",
        policy_key="default_access",
        status=RequestStatus.EXECUTING,
        received_at=T0,
        due_at=T0 + timedelta(days=30),
        identity_types=("email",),
    )
    with SqlUnitOfWork(engine) as uow:
        uow.requests.add(request, b"sealed identities")
        uow.commit()
    return request.id


def pages_of(engine: Engine, rid: str, address: str = USERS) -> list[bytes]:
    with SqlUnitOfWork(engine) as uow:
        return list(uow.results.pages(rid, address))


def test_pages_come_back_in_page_order_and_replace_idempotently(engine: Engine) -> None:
    rid, other = add_request(engine), add_request(engine)
    with SqlUnitOfWork(engine) as uow:
        for page in (2, 0, 1):  # written out of order, read in order
            uow.results.put_page(rid, USERS, page, f"page {page}".encode(), rows=10)
        uow.results.put_page(rid, "app:events", 0, b"events", rows=1)
        uow.results.put_page(other, USERS, 0, b"other request", rows=1)
        uow.commit()
    assert pages_of(engine, rid) == [b"page 0", b"page 1", b"page 2"]
    with SqlUnitOfWork(engine) as uow:
        uow.results.put_page(rid, USERS, 1, b"page 1 again", rows=9)  # a retried step
        uow.commit()
    assert pages_of(engine, rid) == [b"page 0", b"page 1 again", b"page 2"]
    with engine.connect() as conn:
        counts = conn.execute(
            sa.text("SELECT page, row_count FROM result_pages WHERE request_id = :r AND "
                    "address = :a ORDER BY page"), {"r": rid, "a": USERS},
        ).all()  # fmt: skip
    assert [tuple(c) for c in counts] == [(0, 10), (1, 9), (2, 10)]
    assert pages_of(engine, rid, "app:events") == [b"events"]
    assert pages_of(engine, rid, "app:nothing") == []
    assert pages_of(engine, other) == [b"other request"]


def test_pages_are_fetched_one_query_at_a_time(engine: Engine) -> None:
    """The iterator holds one page: rows written after it started are still seen in order."""
    rid = add_request(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.results.put_page(rid, USERS, 0, b"zero", rows=1)
        uow.results.put_page(rid, USERS, 1, b"one", rows=1)
        pages = uow.results.pages(rid, USERS)
        assert next(pages) == b"zero"
        uow.results.put_page(rid, USERS, 5, b"five", rows=1)
        assert list(pages) == [b"one", b"five"]
    assert pages_of(engine, rid) == []  # nothing was committed


def test_clear_pages_and_clear_retrieve_drop_pages(engine: Engine) -> None:
    rid = add_request(engine)
    with SqlUnitOfWork(engine) as uow:
        for page in range(4):
            uow.results.put_page(rid, USERS, page, bytes([page]), rows=1)
        uow.results.put_page(rid, "app:events", 0, b"e", rows=1)
        uow.results.put(NodeResult(rid, USERS, "retrieve", rows_found=4))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        uow.results.clear_pages(rid, USERS, from_page=2)  # a rerun found fewer rows
        uow.commit()
    assert pages_of(engine, rid) == [b"\x00", b"\x01"]
    with SqlUnitOfWork(engine) as uow:
        uow.results.clear(rid, ["erase", "recheck"])  # pages belong to the retrieve phase
        uow.commit()
    assert pages_of(engine, rid) == [b"\x00", b"\x01"]
    with SqlUnitOfWork(engine) as uow:
        uow.results.clear(rid, ["retrieve"])
        uow.commit()
    assert pages_of(engine, rid) == []
    assert pages_of(engine, rid, "app:events") == []
    with SqlUnitOfWork(engine) as uow:
        assert uow.results.get(rid, USERS, "retrieve") is None


def test_a_page_needs_its_request_and_pages_go_with_it(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow, pytest.raises(NotFound):
        uow.results.put_page(str(uuid.uuid4()), USERS, 0, b"x", rows=1)
    rid = add_request(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.results.put_page(rid, USERS, 0, b"x", rows=1)
        uow.commit()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM privacy_requests WHERE id = :r"), {"r": rid})
    assert pages_of(engine, rid) == []


def test_large_pages_roundtrip(engine: Engine) -> None:
    rid = add_request(engine)
    big = bytes(range(256)) * 8192  # 2 MiB, every byte value
    with SqlUnitOfWork(engine) as uow:
        uow.results.put_page(rid, USERS, 0, big, rows=1000)
        uow.commit()
    assert pages_of(engine, rid) == [big]


def _legacy_results(engine: Engine) -> sa.Table:
    """node_results as the database has it now (the code's table may have grown since)."""
    return sa.Table("node_results", sa.MetaData(), autoload_with=engine)


def _add_legacy_request(engine: Engine) -> str:
    """A request row written with privacy_requests as revision 0001 had it."""
    table = sa.Table("privacy_requests", sa.MetaData(), autoload_with=engine)
    rid = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            {
                "id": rid,
                "type": "access",
                "status": "executing",
                "regime": "gdpr",
                "policy_key": "default_access",
                "received_at": T0,
                "due_at": T0 + timedelta(days=30),
                "attempt": 1,
                "identity_types": ["email"],
                "sealed_identities": b"sealed identities",
                "created_at": T0,
                "updated_at": T0,
            },
        )
    return rid


def test_migration_from_0001_keeps_results_and_adds_pages(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade(engine, "0001")
        assert "result_pages" not in sa.inspect(engine).get_table_names()
        rid = _add_legacy_request(engine)
        legacy = {"request_id": rid, "address": USERS, "phase": "retrieve", "status": "done"}
        counts = dict.fromkeys(("rows_masked", "rows_deleted", "rows_changed", "remaining"), 0)
        with engine.begin() as conn:
            conn.execute(
                _legacy_results(engine).insert(),
                {**legacy, **counts, "rows_found": 2, "sealed_rows": b"old", "updated_at": T0},
            )
        upgrade(engine)
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert version == "0010"
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        with SqlUnitOfWork(engine) as uow:
            kept = uow.results.get(rid, USERS, "retrieve")
            assert kept is not None
            assert (kept.rows_found, kept.sealed_rows, kept.evidence) == (2, b"old", {})
            uow.results.put_page(rid, USERS, 0, b"new", rows=2)
            uow.commit()
        assert pages_of(engine, rid) == [b"new"]
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0001")
        assert "result_pages" not in sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            rows = conn.execute(sa.select(_legacy_results(engine).c.rows_found)).all()
        assert rows == [(2,)]
    finally:
        engine.dispose()
