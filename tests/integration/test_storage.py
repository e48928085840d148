"""The app database adapters on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from rightsflow.domain.errors import Conflict, InvalidInput, NotFound
from rightsflow.domain.records import AuditEvent, NodeResult, RequestFilter
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.storage.migrate import alembic_config, make_engine, normalise_url, upgrade_database
from rightsflow.storage.packages import READ_SIZE, FilePackageStore
from rightsflow.storage.tables import metadata
from rightsflow.storage.tokens import ensure_admin_token, token_is_valid
from rightsflow.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.support.postgres import PostgresServer, start_postgres

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'data' / 'app.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    server.create_database("rf_storage")
    return server.url("rf_storage")


@pytest.fixture(scope="module")
def module_engine(db_url: str) -> Iterator[Engine]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(module_engine: Engine) -> Engine:
    """The module's database, emptied before each test."""
    with module_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return module_engine


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty database on the same backend."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"rf_fresh_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.url(name)


def make_request(
    received_at: datetime = T0, key: str | None = None, **changes: object
) -> PrivacyRequest:
    request = PrivacyRequest(
        id=str(uuid.uuid4()),
        type=RequestType.ACCESS,
        regime="gdpr",
        policy_key="default",
        status=RequestStatus.RECEIVED,
        received_at=received_at,
        due_at=received_at + timedelta(days=30),
        identity_types=("email", "user_id"),
        idempotency_key=key,
    )
    for name, value in changes.items():
        setattr(request, name, value)
    return request


def store(engine: Engine, *requests: PrivacyRequest) -> None:
    with SqlUnitOfWork(engine) as uow:
        for request in requests:
            uow.requests.add(request, b"sealed:" + request.id.encode())
        uow.commit()


def test_add_get_save_and_plan_roundtrip(engine: Engine) -> None:
    cest = timezone(timedelta(hours=2))
    request = make_request(received_at=T0.astimezone(cest))
    store(engine, request)
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.requests.get(request.id)
        assert loaded == request
        assert loaded.received_at.tzinfo is UTC
        assert loaded.due_at == T0 + timedelta(days=30)
        assert loaded.due_at.tzinfo is UTC
        assert uow.requests.sealed_identities(request.id) == b"sealed:" + request.id.encode()
        assert uow.requests.plan(request.id) is None
        loaded.transition(RequestStatus.EXECUTING, T0)
        loaded.transition(RequestStatus.COMPLETED, T0 + timedelta(hours=1))
        loaded.attempt = 2
        uow.requests.save(loaded)
        uow.requests.save_plan(request.id, {"nodes": [{"address": "shop:db.users"}]})
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        again = uow.requests.get(request.id)
        assert again.status is RequestStatus.COMPLETED
        assert again.completed_at == T0 + timedelta(hours=1)
        assert again.completed_at.tzinfo is UTC
        assert again.attempt == 2
        assert uow.requests.plan(request.id) == {"nodes": [{"address": "shop:db.users"}]}


def test_missing_request_raises_not_found(engine: Engine) -> None:
    missing = make_request()
    with SqlUnitOfWork(engine) as uow:
        for call in (
            lambda: uow.requests.get(missing.id),
            lambda: uow.requests.save(missing),
            lambda: uow.requests.sealed_identities(missing.id),
            lambda: uow.requests.plan(missing.id),
            lambda: uow.requests.save_plan(missing.id, {}),
        ):
            with pytest.raises(NotFound, match="privacy request not found"):
                call()


def test_idempotency_key_is_found_but_stored_only_as_digest(engine: Engine) -> None:
    request = make_request(key="client-key-1")
    store(engine, request)
    digest = hashlib.sha256(b"client-key-1").hexdigest()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT idempotency_key FROM privacy_requests")).scalar()
    assert stored == digest
    with SqlUnitOfWork(engine) as uow:
        found = uow.requests.by_idempotency_key("client-key-1")
        assert found is not None
        assert found.id == request.id
        assert uow.requests.by_idempotency_key("client-key-2") is None
    with pytest.raises(Conflict):
        store(engine, make_request(key="client-key-1"))


def test_list_pages_newest_first_with_filters(engine: Engine) -> None:
    same_time = T0 + timedelta(minutes=5)
    requests = [make_request(received_at=T0 + timedelta(minutes=i)) for i in range(5)]
    requests += [make_request(received_at=same_time) for _ in range(3)]  # ties broken by id
    requests[1].type = RequestType.ERASURE
    requests[2].regime = "ccpa"
    requests[3].status = RequestStatus.EXECUTING
    store(engine, *requests)
    expected = sorted(requests, key=lambda r: (r.received_at, r.id), reverse=True)

    def ids(filters: RequestFilter, limit: int = 3) -> list[str]:
        seen: list[str] = []
        after: tuple[datetime, str] | None = None
        with SqlUnitOfWork(engine) as uow:
            while page := uow.requests.list(filters, after=after, limit=limit):
                assert len(page) <= limit
                seen += [r.id for r in page]
                after = (page[-1].received_at, page[-1].id)
        return seen

    assert ids(RequestFilter()) == [r.id for r in expected]
    assert ids(RequestFilter(), limit=1) == [r.id for r in expected]
    assert ids(RequestFilter(type=RequestType.ERASURE)) == [requests[1].id]
    assert ids(RequestFilter(regime="ccpa")) == [requests[2].id]
    assert ids(RequestFilter(status=RequestStatus.EXECUTING)) == [requests[3].id]
    window = RequestFilter(
        received_after=T0 + timedelta(minutes=1), received_before=T0 + timedelta(minutes=3)
    )
    assert ids(window) == [requests[2].id, requests[1].id]
    with SqlUnitOfWork(engine) as uow, pytest.raises(InvalidInput):
        uow.requests.list(RequestFilter(), after=None, limit=0)


def test_unfinished_lists_every_open_state_oldest_first(engine: Engine) -> None:
    statuses = list(RequestStatus)
    requests = [
        make_request(received_at=T0 - timedelta(hours=i), status=status)
        for i, status in enumerate(statuses)
    ]
    store(engine, *requests)
    with SqlUnitOfWork(engine) as uow:
        unfinished = uow.requests.unfinished()
    # Statuses were received newest first in enum order; a failed request waits for a retry.
    assert [r.status for r in unfinished] == [
        RequestStatus.EXECUTING,
        RequestStatus.AWAITING_APPROVAL,
        RequestStatus.AWAITING_VERIFICATION,
        RequestStatus.RECEIVED,
    ]


def test_results_upsert_get_and_clear(engine: Engine) -> None:
    request = make_request()
    store(engine, request)
    rid = request.id
    with SqlUnitOfWork(engine) as uow:
        uow.results.put(NodeResult(rid, "shop:db.users", "retrieve", rows_found=2,
                                   sealed_rows=b"\x00sealed"))  # fmt: skip
        uow.results.put(NodeResult(rid, "shop:db.users", "erase", rows_found=2, rows_masked=1))
        uow.results.put(NodeResult(rid, "shop:db.orders", "erase", status="failed", detail="x"))
        uow.results.put(NodeResult(rid, "shop:db.orders", "erase", rows_deleted=3,
                                   rows_changed=3, updated_at=T0))  # fmt: skip
        uow.results.put(NodeResult(rid, "shop:db.users", "recheck", remaining=0))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        orders = uow.results.get(rid, "shop:db.orders", "erase")
        assert orders == NodeResult(rid, "shop:db.orders", "erase", rows_deleted=3,
                                    rows_changed=3, updated_at=T0)  # fmt: skip
        retrieved = uow.results.get(rid, "shop:db.users", "retrieve")
        assert retrieved is not None
        assert retrieved.sealed_rows == b"\x00sealed"
        assert retrieved.updated_at is not None
        assert retrieved.updated_at.tzinfo is UTC
        assert uow.results.get(rid, "shop:db.users", "nope") is None
        assert [(r.phase, r.address) for r in uow.results.for_request(rid)] == [
            ("erase", "shop:db.orders"), ("erase", "shop:db.users"),
            ("recheck", "shop:db.users"), ("retrieve", "shop:db.users"),
        ]  # fmt: skip
        uow.results.clear(rid, ["erase", "recheck"])
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert [r.phase for r in uow.results.for_request(rid)] == ["retrieve"]
        with pytest.raises(NotFound):
            uow.results.put(NodeResult(str(uuid.uuid4()), "shop:db.users", "erase"))


def test_audit_events_come_back_in_append_order(engine: Engine) -> None:
    rid, other = str(uuid.uuid4()), str(uuid.uuid4())
    actions = ["request.received", "request.status_changed", "node.erased", "request.closed"]
    with SqlUnitOfWork(engine) as uow:
        for action in actions:
            uow.audit.append(AuditEvent(rid, action, T0, detail={"rows": 2, "ids": ["a"]}))
        uow.audit.append(AuditEvent(other, "request.received", T0))
        uow.audit.append(AuditEvent(rid, "request.status_changed", T0, actor="ops@example",
                                    from_status="received", to_status="executing"))  # fmt: skip
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        events = uow.audit.for_request(rid)
    assert [e.action for e in events] == [*actions, "request.status_changed"]
    assert events[0] == AuditEvent(rid, actions[0], T0, detail={"rows": 2, "ids": ["a"]})
    assert events[-1].actor == "ops@example"
    assert (events[-1].from_status, events[-1].to_status) == ("received", "executing")


def test_unit_of_work_rolls_back_what_was_not_committed(engine: Engine) -> None:
    kept, dropped, failed = make_request(), make_request(), make_request()
    new_uow = SqlUnitOfWorkFactory(engine)
    with new_uow() as uow:
        uow.requests.add(kept, b"k")
        uow.commit()
        uow.requests.add(dropped, b"d")
        uow.audit.append(AuditEvent(dropped.id, "request.received", T0))
    with pytest.raises(RuntimeError, match="boom"), new_uow() as uow:  # noqa: PT012
        uow.requests.add(failed, b"f")
        raise RuntimeError("boom")
    with new_uow() as uow:
        assert uow.requests.get(kept.id).id == kept.id
        for request in (dropped, failed):
            with pytest.raises(NotFound):
                uow.requests.get(request.id)
        assert uow.audit.for_request(dropped.id) == []


def test_migrations_are_idempotent_reversible_and_match_tables(fresh_url: str) -> None:
    upgrade_database(fresh_url)
    upgrade_database(fresh_url)
    engine = make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                ("0010",)
            ]
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade_database(fresh_url)
        assert set(sa.inspect(engine).get_table_names()) >= set(metadata.tables)
    finally:
        engine.dispose()


def test_engine_setup(module_engine: Engine) -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    if module_engine.dialect.name == "sqlite":
        with module_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    else:
        assert module_engine.dialect.driver == "psycopg"


def raw_database_text(engine: Engine) -> str:
    """Everything the database holds for api_tokens, read below the repositories."""
    if engine.dialect.name == "sqlite":
        db = Path(str(engine.url.database))
        files = [db, db.with_name(db.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists()).decode("latin-1")
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT t::text FROM api_tokens t")).all())


def test_admin_token_is_created_once_and_only_its_hash_is_stored(
    engine: Engine, tmp_path: Path
) -> None:
    token_file = tmp_path / "secrets" / "admin-token"
    token, created = ensure_admin_token(engine, token_file)
    assert created
    assert token is not None
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == token
    assert ensure_admin_token(engine, tmp_path / "second") == (None, False)
    assert not (tmp_path / "second").exists()
    assert token_is_valid(engine, token)
    assert not token_is_valid(engine, token + "x")
    assert not token_is_valid(engine, "")
    raw = raw_database_text(engine)
    assert hashlib.sha256(token.encode()).hexdigest() in raw
    assert token not in raw
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_tokens SET revoked_at = created_at"))
    assert not token_is_valid(engine, token)
    new_token, created = ensure_admin_token(engine, token_file)
    assert created
    assert new_token not in (None, token)


def test_package_store_writes_private_files_atomically(tmp_path: Path) -> None:
    packages = FilePackageStore(tmp_path / "packages")
    rid = str(uuid.uuid4())
    assert packages.read(rid) is None
    assert packages.write(rid, [b"fir", b"st"]) == 5
    assert packages.write(rid, iter([b"sec", b"", b"ond"])) == 6
    stored = packages.read(rid)
    assert stored is not None
    assert b"".join(stored) == b"second"
    assert stat.S_IMODE((tmp_path / "packages" / f"{rid}.bin").stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "packages").iterdir()] == [f"{rid}.bin"]
    for bad in ("../../etc/passwd", rid.upper(), "{" + rid + "}", f"urn:uuid:{rid}", ""):
        with pytest.raises(InvalidInput):
            packages.write(bad, [b"x"])
        with pytest.raises(InvalidInput):
            packages.read(bad)


def test_package_store_keeps_the_old_package_when_a_write_fails(tmp_path: Path) -> None:
    packages = FilePackageStore(tmp_path / "packages")
    rid = str(uuid.uuid4())
    packages.write(rid, [b"old"])

    def failing() -> Iterator[bytes]:
        yield b"half of the new one"
        raise RuntimeError("sealing failed")

    with pytest.raises(RuntimeError, match="sealing failed"):
        packages.write(rid, failing())
    stored = packages.read(rid)
    assert stored is not None
    assert b"".join(stored) == b"old"
    assert [p.name for p in (tmp_path / "packages").iterdir()] == [f"{rid}.bin"]


def test_package_store_reads_large_packages_in_chunks(tmp_path: Path) -> None:
    packages = FilePackageStore(tmp_path / "packages")
    rid = str(uuid.uuid4())
    data = os.urandom(READ_SIZE * 2 + 7)
    packages.write(rid, [data])
    stored = packages.read(rid)
    assert stored is not None
    chunks = list(stored)
    assert [len(c) for c in chunks] == [READ_SIZE, READ_SIZE, 7]
    assert b"".join(chunks) == data
