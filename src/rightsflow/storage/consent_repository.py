"""The consent ledger in SQL: `consent_records` + `consent_entries` (append-only), the
materialised `consent_state`, and `consent_links`.

A write is a handful of statements, each built once at import: the subject lock, one read of
the subject's state, one record insert, one multi-row entry insert (ids assigned by the
database, RETURNING in parameter order) and one executemany upsert of the state. Ledger rows
are never updated or deleted here; the state row of a purpose is replaced only by a newer entry
(`entry_id` grows), so two writers that commit out of order cannot bring an older choice back.

Two writes for one subject are serialised (`lock_state`): on PostgreSQL by a transaction-level
advisory lock on the subject hash (a `SELECT ... FOR UPDATE` would lock nothing for a subject
with no state yet, and the second writer's snapshot would miss rows the first inserted); on
SQLite by the database write lock (`BEGIN IMMEDIATE`), the only lock it has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from rightsflow.domain.consent import (
    ConsentRecordView,
    LedgerEntry,
    NoticeRef,
    PurposeState,
    Source,
    SubjectKind,
)
from rightsflow.domain.requests import TERMINAL, RequestType
from rightsflow.storage.consent_tables import (
    consent_entries,
    consent_links,
    consent_records,
    consent_state,
)
from rightsflow.storage.migrate import take_write_lock
from rightsflow.storage.tables import identity_hashes, privacy_requests

_r = consent_records.c
_e = consent_entries.c
_s = consent_state.c
_l = consent_links.c
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _state_upsert(insert: Any) -> Any:
    """INSERT ... ON CONFLICT (subject, purpose) DO UPDATE, only by a newer entry."""
    statement = insert(consent_state)
    excluded = statement.excluded
    changed = ("granted", "source", "notice_key", "notice_version", "entry_id", "resolution")
    return statement.on_conflict_do_update(
        index_elements=[_s.subject_hash, _s.purpose],
        set_={name: excluded[name] for name in (*changed, "updated_at")},
        where=_s.entry_id < excluded.entry_id,
    )


_UPSERTS = {"postgresql": _state_upsert(postgresql.insert), "sqlite": _state_upsert(sqlite.insert)}
_LINK_INSERTS = {
    "postgresql": postgresql.insert(consent_links).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(consent_links).on_conflict_do_nothing(),
}
_ADD_RECORD = consent_records.insert()
_ADD_ENTRIES = consent_entries.insert().returning(_e.id, sort_by_parameter_order=True)
_HASH: sa.BindParameter[str] = sa.bindparam("subject_hash", type_=sa.String())
_LAST = (
    sa.select(sa.func.max(_r.recorded_at).label("last_at"))
    .where(_r.subject_hash == _HASH)
    .subquery("last")
)
# One row even for a subject with no state: the latest record time, and each state row.
_LOCKED_STATE = sa.select(_LAST.c.last_at, consent_state).select_from(
    _LAST.outerjoin(consent_state, _s.subject_hash == _HASH)
)
_STATE = sa.select(consent_state).where(_s.subject_hash == _HASH)
_HASHES: sa.BindParameter[str] = sa.bindparam("subject_hashes", expanding=True)
# Many subjects at once (a batch of writes): their state rows, and their latest record times.
_LASTS_OF = (
    sa.select(_r.subject_hash.label("of"), sa.func.max(_r.recorded_at).label("last_at"))
    .where(_r.subject_hash.in_(_HASHES))
    .group_by(_r.subject_hash)
    .subquery("lasts")
)
# Many subjects at once (a batch of writes), in one query: each one's latest record time and
# state rows (a subject with state has records; one with none has neither).
_STATES_OF = sa.select(_LASTS_OF.c.of, _LASTS_OF.c.last_at, consent_state).select_from(
    _LASTS_OF.outerjoin(consent_state, _s.subject_hash == _LASTS_OF.c.of)
)
# One statement takes every lock of a batch, in the order of the sorted keys (two batches
# sharing subjects take them in the same order: no deadlock between them).
_LOCK_ALL = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"
)
_ih, _pr = identity_hashes.c, privacy_requests.c
# An erasure request for the subject that has not ended, found by the identity hash privacy
# requests are indexed by: one indexed lookup, usually finding nothing.
_UNDER_ERASURE = (
    sa.select(_pr.id)
    .join(identity_hashes, _ih.request_id == _pr.id)
    .where(
        _ih.kind == sa.bindparam("kind"),
        _ih.hash == _HASH,
        _pr.type == RequestType.ERASURE.value,
        _pr.status.not_in(sorted(s.value for s in TERMINAL)),
    )
    .limit(1)
)
_ERASING = (
    sa.select(_ih.kind, _ih.hash)
    .join(privacy_requests, _ih.request_id == _pr.id)
    .where(
        _ih.hash.in_(_HASHES),
        _pr.type == RequestType.ERASURE.value,
        _pr.status.not_in(sorted(s.value for s in TERMINAL)),
    )
)
_HAS_RECORD = sa.select(_r.id).where(_r.id == sa.bindparam("record_id"))
_RECORDS = sa.select(consent_records).where(_r.subject_hash == _HASH)
_ENTRIES_OF = (
    sa.select(consent_entries)
    .where(_e.record_id.in_(sa.bindparam("record_ids", expanding=True)))
    .order_by(_e.id)
)
_LINKS_TO = (
    sa.select(_l.from_hash).where(_l.to_hash == sa.bindparam("to_hash")).order_by(_l.linked_at)
)


class SqlConsentLedgerRepository:
    """Satisfies services.consent_ports.ConsentLedgerRepository over the unit of work's
    connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def lock_state(self, subject_hash: str) -> tuple[Mapping[str, PurposeState], datetime | None]:
        """Serialise writers of this subject until the transaction ends, then read its state
        and the time of its latest record (None: no record yet)."""
        self._lock(subject_hash)
        states: dict[str, PurposeState] = {}
        last_at: datetime | None = None
        for row in self._conn.execute(_LOCKED_STATE, {"subject_hash": subject_hash}):
            last_at = row.last_at
            if row.purpose is not None:
                states[row.purpose] = _purpose_state(row)
        return states, last_at

    def _lock(self, subject_hash: str) -> None:
        if self._conn.dialect.name != "sqlite":
            take_write_lock(self._conn, f"rightsflow.consent:{subject_hash}")
            return
        # The driver opens a transaction at the first write only; one that already wrote holds
        # the write lock, one that has not takes it now (waiting up to busy_timeout).
        driver = self._conn.connection.dbapi_connection
        if driver is None or not getattr(driver, "in_transaction", False):
            take_write_lock(self._conn, "rightsflow.consent")

    def lock_states(
        self, subject_hashes: Collection[str]
    ) -> dict[str, tuple[dict[str, PurposeState], datetime | None]]:
        """`lock_state` for many subjects in three statements: every lock (in key order), then
        their states and latest record times."""
        hashes = sorted(set(subject_hashes))
        if not hashes:
            return {}
        if self._conn.dialect.name == "sqlite":
            self._lock(hashes[0])
        else:
            keys = sorted({_advisory_key(h) for h in hashes})
            self._conn.execute(_LOCK_ALL, {"keys": keys})
        found: dict[str, tuple[dict[str, PurposeState], datetime | None]] = {
            h: ({}, None) for h in hashes
        }
        for row in self._conn.execute(_STATES_OF, {"subject_hashes": hashes}):
            states = found[row.of] = (found[row.of][0], row.last_at)
            if row.purpose is not None:
                states[0][row.purpose] = _purpose_state(row)
        return found

    def erasing(self, identities: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (kind, hash) identities have an erasure request not ended."""
        wanted = set(identities)
        params = {"subject_hashes": sorted({h for _, h in wanted})}
        rows = self._conn.execute(_ERASING, params)
        return {(row.kind, row.hash) for row in rows} & wanted

    def append_many(
        self, records: Sequence[tuple[ConsentRecordView, Sequence[LedgerEntry], bytes | None]]
    ) -> list[list[int]]:
        """`append` for many records: one executemany per table. Entry ids come back per record,
        in order; the state keeps each (subject, purpose)'s newest entry only."""
        self._conn.execute(_ADD_RECORD, [_record_values(r, sealed) for r, _, sealed in records])
        rows = [_entry_values(r, e) for r, entries, _ in records for e in entries]
        if not rows:
            return [[] for _ in records]
        ids = iter([int(i) for i in self._conn.execute(_ADD_ENTRIES, rows).scalars()])
        out = [[next(ids) for _ in entries] for _, entries, _ in records]
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for (record, entries, _), entry_ids in zip(records, out, strict=True):
            for entry, entry_id in zip(entries, entry_ids, strict=True):
                newest[record.subject_hash, entry.purpose] = _state_values(record, entry, entry_id)
        self._conn.execute(_UPSERTS[self._conn.dialect.name], list(newest.values()))
        return out

    def under_erasure(self, kind: str, subject_hash: str) -> bool:
        """Whether an erasure request for this identity (kind and hash) has not ended."""
        params = {"kind": kind, "subject_hash": subject_hash}
        return self._conn.execute(_UNDER_ERASURE, params).first() is not None

    def has_record(self, record_id: str) -> bool:
        return self._conn.execute(_HAS_RECORD, {"record_id": record_id}).first() is not None

    def state(self, subject_hash: str) -> Mapping[str, PurposeState]:
        rows = self._conn.execute(_STATE, {"subject_hash": subject_hash})
        return {row.purpose: _purpose_state(row) for row in rows}

    def append(
        self,
        record: ConsentRecordView,
        entries: Sequence[LedgerEntry],
        sealed_subject: bytes | None = None,
    ) -> list[int]:
        return self.append_many([(record, entries, sealed_subject)])[0]

    def history(
        self, subject_hash: str, after: int | None, limit: int
    ) -> Sequence[tuple[ConsentRecordView, Sequence[LedgerEntry]]]:
        """Records oldest first, each with its entries; `after` is the last one's time in
        microseconds (domain.consent_state.micros; unique per subject, as the write path makes
        each record of a subject later than the one before)."""
        query = _RECORDS.order_by(_r.recorded_at, _r.id).limit(limit)
        if after is not None:
            query = query.where(_r.recorded_at > _EPOCH + timedelta(microseconds=after))
        records = [
            _record(row) for row in self._conn.execute(query, {"subject_hash": subject_hash})
        ]
        if not records:
            return []
        by_record: dict[str, list[LedgerEntry]] = {r.id: [] for r in records}
        notices = {r.id: r.notice for r in records}
        params = {"record_ids": list(by_record)}
        for row in self._conn.execute(_ENTRIES_OF, params):
            by_record[row.record_id].append(_entry(row, notices[row.record_id]))
        return [(r, by_record[r.id]) for r in records]

    def add_link(self, from_hash: str, to_hash: str, record_id: str, at: datetime) -> None:
        """Keep that `from_hash`'s choices were carried to `to_hash` (the first link is kept)."""
        values = {
            "from_hash": from_hash,
            "to_hash": to_hash,
            "record_id": record_id,
            "linked_at": at,
        }
        self._conn.execute(_LINK_INSERTS[self._conn.dialect.name], values)

    def linked_to(self, to_hash: str) -> Sequence[str]:
        """The device/email hashes whose choices were carried to `to_hash`, oldest first."""
        return list(self._conn.execute(_LINKS_TO, {"to_hash": to_hash}).scalars())


def _advisory_key(subject_hash: str) -> int:
    """The key `take_write_lock` takes for the subject (lock_state): the batch and the single
    write path must exclude each other."""
    digest = hashlib.sha256(f"rightsflow.consent:{subject_hash}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _record_values(record: ConsentRecordView, sealed: bytes | None) -> dict[str, Any]:
    notice = record.notice
    return {
        "id": record.id,
        "subject_hash": record.subject_hash,
        "subject_kind": record.subject_kind.value,
        "source": record.source.value,
        "regime": record.regime,
        "notice_key": None if notice is None else notice.key,
        "notice_version": None if notice is None else notice.version,
        "gpc": record.gpc,
        "tcf": record.tcf,
        "tcf_decoded": None if record.tcf_decoded is None else dict(record.tcf_decoded),
        "tcf_valid": record.tcf_valid,
        "gpp": record.gpp,
        "gpp_decoded": None if record.gpp_decoded is None else dict(record.gpp_decoded),
        "gpp_valid": record.gpp_valid,
        "request_id": record.request_id,
        "linked_from": record.linked_from,
        "actor": record.actor,
        "recorded_at": record.recorded_at,
        "sealed_subject": sealed,
    }


def _entry_values(record: ConsentRecordView, entry: LedgerEntry) -> dict[str, Any]:
    return {
        "record_id": record.id,
        "subject_hash": record.subject_hash,
        "purpose": entry.purpose,
        "granted": entry.granted,
        "effective": entry.effective,
        "source": entry.source.value,
        "resolution": entry.resolution,
        "recorded_at": record.recorded_at,
    }


def _state_values(record: ConsentRecordView, entry: LedgerEntry, entry_id: int) -> dict[str, Any]:
    notice = record.notice
    return {
        "subject_hash": record.subject_hash,
        "purpose": entry.purpose,
        "granted": entry.effective,
        "source": entry.source.value,
        "notice_key": None if notice is None else notice.key,
        "notice_version": None if notice is None else notice.version,
        "entry_id": entry_id,
        "resolution": entry.resolution,
        "updated_at": record.recorded_at,
    }


def _notice(key: str | None, version: int | None) -> NoticeRef | None:
    return None if key is None or version is None else NoticeRef(key, int(version))


def _purpose_state(row: Row[Any]) -> PurposeState:
    return PurposeState(
        purpose=row.purpose,
        granted=bool(row.granted),
        source=Source(row.source),
        updated_at=row.updated_at,
        entry_id=int(row.entry_id),
        notice=_notice(row.notice_key, row.notice_version),
        resolution=row.resolution,
    )


def _record(row: Row[Any]) -> ConsentRecordView:
    return ConsentRecordView(
        id=row.id,
        subject_hash=row.subject_hash,
        subject_kind=SubjectKind(row.subject_kind),
        source=Source(row.source),
        regime=row.regime,
        recorded_at=row.recorded_at,
        notice=_notice(row.notice_key, row.notice_version),
        gpc=bool(row.gpc),
        actor=row.actor,
        tcf=row.tcf,
        tcf_decoded=row.tcf_decoded,
        tcf_valid=row.tcf_valid,
        gpp=row.gpp,
        gpp_decoded=row.gpp_decoded,
        gpp_valid=row.gpp_valid,
        request_id=row.request_id,
        linked_from=row.linked_from,
    )


def _entry(row: Row[Any], notice: NoticeRef | None) -> LedgerEntry:
    return LedgerEntry(
        id=int(row.id),
        record_id=row.record_id,
        subject_hash=row.subject_hash,
        purpose=row.purpose,
        granted=bool(row.granted),
        effective=bool(row.effective),
        source=Source(row.source),
        recorded_at=row.recorded_at,
        notice=notice,
        resolution=row.resolution,
    )
