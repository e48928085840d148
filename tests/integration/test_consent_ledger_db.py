"""The consent ledger repository on SQLite and PostgreSQL: append, state, history pages, links,
and two writers of one subject serialised."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.domain.consent import (
    ConsentRecordView,
    LedgerEntry,
    NoticeRef,
    Source,
    SubjectKind,
)
from rightsflow.domain.consent_state import micros
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.storage.consent_tables import consent_entries, consent_state
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import metadata
from rightsflow.storage.uow import SqlUnitOfWork
from tests.support.db_runtime import DB_KINDS, pg_database_url

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
H = "a" * 64


@pytest.fixture(scope="module", params=DB_KINDS)
def module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'app.db'}"
    else:
        url = pg_database_url(request, "rf_ledger")
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


def record(at: datetime, subject: str = H, **extra: object) -> ConsentRecordView:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "subject_hash": subject,
        "subject_kind": SubjectKind.USER_ID,
        "source": Source.BANNER,
        "regime": "ccpa",
        "recorded_at": at,
        "notice": NoticeRef("banner", 2),
        "gpc": False,
        "actor": "client:test",
    }
    values.update(extra)
    return ConsentRecordView(**values)  # type: ignore[arg-type]


def entry(rec: ConsentRecordView, purpose: str, granted: bool, **extra: object) -> LedgerEntry:
    values: dict[str, object] = {
        "id": 0,
        "record_id": rec.id,
        "subject_hash": rec.subject_hash,
        "purpose": purpose,
        "granted": granted,
        "effective": granted,
        "source": rec.source,
        "recorded_at": rec.recorded_at,
    }
    values.update(extra)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def write(engine: Engine, rec: ConsentRecordView, *entries: LedgerEntry) -> list[int]:
    with SqlUnitOfWork(engine) as uow:
        uow.consent.lock_state(rec.subject_hash)
        ids = uow.consent.append(rec, entries, sealed_subject=b"sealed")
        uow.commit()
    return ids


def test_append_materialises_state_and_keeps_history(engine: Engine) -> None:
    first = record(T0, tcf="CPx", tcf_decoded={"version": 2}, tcf_valid=True)
    ids = write(engine, first, entry(first, "analytics", True), entry(first, "advertising", True))
    assert ids == sorted(ids)
    assert len(set(ids)) == 2
    second = record(T0 + timedelta(seconds=1), source=Source.GPC, gpc=True, notice=None)
    resolution = "gpc_overrides_saved_choice"
    write(engine, second, entry(second, "advertising", False, resolution=resolution))
    with SqlUnitOfWork(engine) as uow:
        state, last_at = uow.consent.lock_state(H)
        assert last_at == second.recorded_at
        assert {k: (s.granted, s.source) for k, s in state.items()} == {
            "analytics": (True, Source.BANNER),
            "advertising": (False, Source.GPC),
        }
        assert state["analytics"].notice == NoticeRef("banner", 2)
        assert state["advertising"].resolution == resolution
        assert uow.consent.state("b" * 64) == {}
        history = uow.consent.history(H, None, 10)
    assert [r.id for r, _ in history] == [first.id, second.id]
    stored, entries = history[0]
    assert (stored.tcf, stored.tcf_decoded, stored.tcf_valid) == ("CPx", {"version": 2}, True)
    assert [e.purpose for e in entries] == ["analytics", "advertising"]
    assert [e.id for e in entries] == ids
    assert history[1][1][0].resolution == resolution


def test_history_pages_by_cursor(engine: Engine) -> None:
    recs = [record(T0 + timedelta(microseconds=i)) for i in range(5)]
    for rec in recs:
        write(engine, rec, entry(rec, "analytics", True))
    with SqlUnitOfWork(engine) as uow:
        page = uow.consent.history(H, None, 2)
        rest = uow.consent.history(H, micros(page[-1][0].recorded_at), 10)
        assert uow.consent.history(H, micros(rest[-1][0].recorded_at), 10) == []
    assert [r.id for r, _ in [*page, *rest]] == [r.id for r in recs]


def test_state_is_only_replaced_by_a_newer_entry(engine: Engine) -> None:
    rec = record(T0)
    write(engine, rec, entry(rec, "analytics", True))
    with engine.begin() as conn:  # as if a later entry had already been materialised
        conn.execute(consent_state.update().values(entry_id=10**12))
    later = record(T0 + timedelta(seconds=1))
    write(engine, later, entry(later, "analytics", False))
    with SqlUnitOfWork(engine) as uow:
        assert uow.consent.state(H)["analytics"].granted is True
    with engine.connect() as conn:  # the ledger still has both entries
        assert conn.execute(sa.select(sa.func.count()).select_from(consent_entries)).scalar() == 2


def test_links_are_kept_once(engine: Engine) -> None:
    rec = record(T0)
    write(engine, rec)
    with SqlUnitOfWork(engine) as uow:
        uow.consent.add_link("d" * 64, H, rec.id, T0)
        uow.consent.add_link("d" * 64, H, rec.id, T0 + timedelta(seconds=1))
        uow.consent.add_link("e" * 64, H, rec.id, T0 + timedelta(seconds=2))
        uow.commit()
        assert uow.consent.linked_to(H) == ["d" * 64, "e" * 64]


def test_two_writers_of_one_subject_are_serialised(engine: Engine) -> None:
    """The second writer waits for the first to commit and then sees its state (a new subject:
    no state row exists to lock)."""
    first_locked, seen = threading.Event(), {}

    def first() -> None:
        with SqlUnitOfWork(engine) as uow:
            uow.consent.lock_state(H)
            first_locked.set()
            time.sleep(0.4)
            rec = record(T0)
            uow.consent.append(rec, [entry(rec, "analytics", True)])
            uow.commit()

    def second() -> None:
        first_locked.wait(5)
        with SqlUnitOfWork(engine) as uow:
            started = time.monotonic()
            state, last_at = uow.consent.lock_state(H)
            seen.update(waited=time.monotonic() - started, state=dict(state), last_at=last_at)
            rec = record(T0 + timedelta(seconds=1))
            uow.consent.append(rec, [entry(rec, "analytics", False)])
            uow.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["waited"] > 0.2
    assert seen["last_at"] == T0
    assert seen["state"]["analytics"].granted is True
    with SqlUnitOfWork(engine) as uow:
        assert uow.consent.state(H)["analytics"].granted is False


def test_under_erasure_is_an_erasure_request_that_has_not_ended(engine: Engine) -> None:
    def request(kind: RequestType, status: RequestStatus) -> PrivacyRequest:
        return PrivacyRequest(
            id=str(uuid.uuid4()),
            type=kind,
            regime="gdpr",
            policy_key="default",
            status=status,
            received_at=T0,
            due_at=T0 + timedelta(days=30),
            identity_types=("user_id",),
        )

    def store(*requests: PrivacyRequest) -> None:
        with SqlUnitOfWork(engine) as uow:
            for r in requests:
                uow.requests.add(r, b"sealed")
                uow.identities.add(r.id, {"user_id": H})
            uow.commit()

    store(
        request(RequestType.ACCESS, RequestStatus.RECEIVED),
        request(RequestType.ERASURE, RequestStatus.COMPLETED),
    )
    with SqlUnitOfWork(engine) as uow:
        assert not uow.consent.under_erasure("user_id", H)
    store(request(RequestType.ERASURE, RequestStatus.AWAITING_VERIFICATION))
    with SqlUnitOfWork(engine) as uow:
        assert uow.consent.under_erasure("user_id", H)
        assert not uow.consent.under_erasure("email", H)
        assert not uow.consent.under_erasure("user_id", "b" * 64)
