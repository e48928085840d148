"""The audit chain in the app database (SQLite and a real PostgreSQL): appends chain, and
tampering with the rows directly is caught and the first broken event named."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rightsflow.domain.audit_chain import GENESIS, AuditFilter, StoredEvent, event_hash
from rightsflow.domain.records import AuditEvent
from rightsflow.services import audit_log
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import audit_events, metadata
from rightsflow.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.support.postgres import PostgresServer

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
RID = str(uuid.uuid4())
_ae = audit_events.c


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'app.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("sql_pg_server")
        server.create_database("rf_audit")
        url = server.url("rf_audit")
    upgrade_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(module_engine: Engine) -> Engine:
    with module_engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return module_engine


def append(engine: Engine, count: int, request_id: str = RID, actor: str = "system") -> None:
    with SqlUnitOfWork(engine) as uow:
        for i in range(count):
            at = T0 + timedelta(minutes=i)
            uow.audit.append(AuditEvent(request_id, f"step.{i}", at, actor, detail={"n": i}))
        uow.commit()


def stored(engine: Engine) -> list[StoredEvent]:
    return list(audit_log.events(SqlUnitOfWorkFactory(engine)))


def verify(engine: Engine) -> tuple[int | None, str | None]:
    # A page size of 3 makes the verifier look ahead across page boundaries.
    broken = audit_log.verify(SqlUnitOfWorkFactory(engine), page_size=3).broken
    return (None, None) if broken is None else (broken.event_id, broken.kind)


def tamper(engine: Engine, change: Callable[[Connection], object]) -> None:
    with engine.begin() as conn:
        change(conn)


def test_appends_chain_in_id_order_from_genesis(engine: Engine) -> None:
    append(engine, 4)
    append(engine, 3, actor="bootstrap:owner")
    events = stored(engine)
    assert [e.id for e in events] == list(range(1, 8))
    assert events[0].prev_hash == GENESIS
    for before, event in itertools.pairwise(events):
        assert event.prev_hash == before.hash
        assert event.hash == event_hash(event)
    report = audit_log.verify(SqlUnitOfWorkFactory(engine), page_size=3)
    assert report.intact
    assert (report.events, report.head_id, report.head_hash) == (7, 7, events[-1].hash)


def test_events_are_written_at_commit_and_dropped_on_rollback(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.audit.append(AuditEvent(RID, "kept", T0))
        assert [e.action for e in uow.audit.for_request(RID)] == ["kept"]  # reads its writes
        uow.commit()
        uow.audit.append(AuditEvent(RID, "dropped", T0))
    with SqlUnitOfWork(engine) as uow:
        assert [e.action for e in uow.audit.for_request(RID)] == ["kept"]
    assert verify(engine) == (None, None)


def _swap(conn: Connection, column: str, a: int, b: int) -> None:
    rows = {r.id: r for r in conn.execute(sa.select(audit_events).where(_ae.id.in_([a, b])))}
    if column == "id":
        conn.execute(audit_events.update().where(_ae.id == a).values(id=-1))
        conn.execute(audit_events.update().where(_ae.id == b).values(id=a))
        conn.execute(audit_events.update().where(_ae.id == -1).values(id=b))
    else:
        conn.execute(audit_events.update().where(_ae.id == a).values(at=rows[b].at))
        conn.execute(audit_events.update().where(_ae.id == b).values(at=rows[a].at))


def _forge(conn: Connection, event_id: int, prev_hash: str) -> None:
    forged = StoredEvent(event_id, RID, "package.downloaded", T0, "operator:x", prev_hash=prev_hash)
    conn.execute(
        audit_events.insert().values(
            id=event_id, request_id=RID, action=forged.action, at=T0, actor=forged.actor,
            detail={}, prev_hash=prev_hash, hash=event_hash(forged),
        )
    )  # fmt: skip


TAMPERING: dict[str, tuple[Callable[[Connection], object], tuple[int, str]]] = {
    "detail updated": (
        lambda c: c.execute(audit_events.update().where(_ae.id == 4).values(detail={"n": 0})),
        (4, "edited"),
    ),
    "actor updated and rehashed": (
        lambda c: _rehash(c, 5, actor="operator:mallory"),
        (5, "edited"),
    ),
    "event deleted": (
        lambda c: c.execute(audit_events.delete().where(_ae.id == 5)),
        (6, "deleted"),
    ),
    "ids swapped": (lambda c: _swap(c, "id", 3, 4), (3, "reordered")),
    "ids swapped across a page": (lambda c: _swap(c, "id", 2, 7), (2, "reordered")),
    "times swapped": (lambda c: _swap(c, "at", 6, 8), (6, "reordered")),
    "forged event appended": (lambda c: _forge(c, 11, "f" * 64), (11, "inserted")),
    "hash removed": (
        lambda c: c.execute(audit_events.update().where(_ae.id == 9).values(hash=None)),
        (9, "unhashed"),
    ),
}


def _rehash(conn: Connection, event_id: int, **changes: object) -> None:
    conn.execute(audit_events.update().where(_ae.id == event_id).values(**changes))
    row = conn.execute(sa.select(audit_events).where(_ae.id == event_id)).mappings().one()
    event = StoredEvent(**{k: v for k, v in row.items() if k != "hash"})
    conn.execute(audit_events.update().where(_ae.id == event_id).values(hash=event_hash(event)))


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_names_the_first_broken_event(engine: Engine, case: str) -> None:
    append(engine, 10)
    assert verify(engine) == (None, None)
    change, expected = TAMPERING[case]
    tamper(engine, change)
    assert verify(engine) == expected


def test_legacy_events_are_a_prefix_and_a_late_one_is_a_break(engine: Engine) -> None:
    legacy = {"request_id": RID, "action": "request.received", "at": T0, "actor": "system"}
    with engine.begin() as conn:  # as written before revision 0004: no hashes
        conn.execute(audit_events.insert(), [{**legacy, "id": i, "detail": {}} for i in (1, 2)])
    append(engine, 2)
    events = stored(engine)
    assert events[2].prev_hash == GENESIS
    report = audit_log.verify(SqlUnitOfWorkFactory(engine))
    assert (report.intact, report.events, report.legacy) == (True, 4, 2)
    tamper(engine, lambda c: c.execute(audit_events.insert().values(id=5, detail={}, **legacy)))
    assert verify(engine) == (5, "unhashed")


def test_search_filters_and_pages_by_id(engine: Engine) -> None:
    other = str(uuid.uuid4())
    append(engine, 4)
    append(engine, 2, request_id=other, actor="operator:ann")
    uow = SqlUnitOfWorkFactory(engine)
    by_request = audit_log.page(uow, AuditFilter(request_id=other), None, 10)
    assert [e.id for e in by_request] == [5, 6]
    assert [e.id for e in audit_log.page(uow, AuditFilter(actor="operator:ann"), 5, 10)] == [6]
    assert [e.id for e in audit_log.page(uow, AuditFilter(action="step.1"), None, 10)] == [2, 6]
    window = AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [e.id for e in audit_log.page(uow, window, None, 10)] == [2, 3, 6]
    assert [e.id for e in audit_log.events(uow, AuditFilter(), page_size=4)] == list(range(1, 7))


def test_concurrent_appends_form_one_intact_chain(engine: Engine) -> None:
    threads, rounds = 6, 15
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(rounds):
                with SqlUnitOfWork(engine) as uow:
                    if i % 2:  # half the transactions have written before they append
                        uow.results.clear(RID, ["erase"])
                    uow.audit.append(AuditEvent(RID, f"w{n}", T0, detail={"i": i}))
                    uow.audit.append(AuditEvent(RID, f"w{n}", T0, detail={"i": -i}))
                    uow.commit()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    events = stored(engine)
    assert [e.id for e in events] == list(range(1, threads * rounds * 2 + 1))
    assert audit_log.verify(SqlUnitOfWorkFactory(engine)).intact
