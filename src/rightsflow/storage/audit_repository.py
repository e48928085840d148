"""The audit trail in SQL: appends that extend the hash chain, reads in id order.

Appending is serialised so two writers never chain to the same predecessor: the writer takes
the audit lock in its own transaction (PostgreSQL: a transaction-level advisory lock; SQLite:
the database write lock, which a transaction that already wrote holds, and which `BEGIN
IMMEDIATE` takes for one that has not), reads the chain head (the last event by primary key,
one index lookup) and inserts with the next id. The lock is held until commit, so ids are
handed out in commit order and a chained trail has no gaps: a gap means a deletion.

In the unit of work, appends are deferred to commit (`deferred=True`): the audit lock is then
the last lock a transaction takes, so it can never be part of a deadlock, and it is held only
for the insert and the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from rightsflow.domain.audit_chain import AuditFilter, StoredEvent, chain
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.records import AuditEvent
from rightsflow.storage.migrate import take_write_lock
from rightsflow.storage.tables import audit_events

AUDIT_LOCK = "rightsflow.audit"
_ae = audit_events.c


class SqlAuditRepository:
    """Satisfies services.ports.AuditRepository. Not shared between threads."""

    def __init__(self, connection: Connection, *, deferred: bool = False) -> None:
        self._conn = connection
        self._deferred = deferred
        self._pending: list[AuditEvent] = []
        self._locked_in: sa.engine.Transaction | None = None

    def append(self, event: AuditEvent) -> None:
        self._pending.append(event)
        if not self._deferred:
            self.flush()

    def flush(self) -> None:
        """Write the pending events, chained: one head read and one (multi-row) insert."""
        if not self._pending:
            return
        self._lock()
        head = self._conn.execute(
            sa.select(_ae.id, _ae.hash).order_by(_ae.id.desc()).limit(1)
        ).first()
        last_id, last_hash = (0, None) if head is None else (int(head.id), head.hash)
        rows: list[dict[str, Any]] = []
        for offset, event in enumerate(self._pending, start=1):
            stored = chain(last_id + offset, event, last_hash)
            rows.append(_values(stored))
            last_hash = stored.hash
        self._conn.execute(audit_events.insert(), rows)
        self._pending.clear()

    def _lock(self) -> None:
        conn = self._conn
        if conn.dialect.name == "sqlite":
            raw = conn.connection.dbapi_connection
            # pysqlite opens a transaction only before a write, so one that is open has written
            # and holds the database write lock already; otherwise take it first.
            if not getattr(raw, "in_transaction", False):
                take_write_lock(conn, AUDIT_LOCK)
            return
        transaction = conn.get_transaction()
        if transaction is None or transaction is not self._locked_in:
            take_write_lock(conn, AUDIT_LOCK)
            self._locked_in = conn.get_transaction()

    def for_request(self, request_id: str) -> Sequence[AuditEvent]:
        return self.for_requests([request_id])

    def for_requests(self, request_ids: Sequence[str]) -> Sequence[AuditEvent]:
        """The events of many requests in one query, in id order."""
        self.flush()
        query = (
            sa.select(audit_events).where(_ae.request_id.in_(list(request_ids))).order_by(_ae.id)
        )
        return [_to_event(row) for row in self._conn.execute(query).mappings()]

    def search(self, filters: AuditFilter, after: int | None, limit: int) -> Sequence[StoredEvent]:
        """Events matching `filters` with id > `after`, oldest (lowest id) first."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1", field="limit")
        self.flush()
        query = sa.select(audit_events).where(*_conditions(filters))
        if after is not None:
            query = query.where(_ae.id > after)
        query = query.order_by(_ae.id).limit(limit)
        return [_to_stored(row) for row in self._conn.execute(query).mappings()]


def _conditions(filters: AuditFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.request_id is not None:
        conditions.append(_ae.request_id == filters.request_id)
    if filters.actor is not None:
        conditions.append(_ae.actor == filters.actor)
    if filters.action is not None:
        conditions.append(_ae.action == filters.action)
    if filters.since is not None:
        conditions.append(_ae.at >= filters.since)
    if filters.until is not None:
        conditions.append(_ae.at < filters.until)
    return conditions


def _values(event: StoredEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "request_id": event.request_id,
        "action": event.action,
        "at": event.at,
        "actor": event.actor,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": dict(event.detail),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _to_event(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        request_id=row["request_id"],
        action=row["action"],
        at=row["at"],
        actor=row["actor"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        detail=dict(row["detail"]),
    )


def _to_stored(row: RowMapping) -> StoredEvent:
    return StoredEvent(
        id=int(row["id"]),
        request_id=row["request_id"],
        action=row["action"],
        at=row["at"],
        actor=row["actor"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        detail=dict(row["detail"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
