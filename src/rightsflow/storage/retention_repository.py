"""The retention purge in SQL: find closed requests past their retention, count and delete
what they hold, and keep a tombstone of the request row.

What belongs to a request is read from the schema: every table with a foreign key to
`privacy_requests.id` (result pages, node results, system calls, verifications, and any table
added later, such as the DRP's). A new table holding a request's data is purged without anyone
having to remember to add it here; the audit trail (no foreign key, on purpose) is never
touched.

The request row is kept, with its non-personal facts only (type, regime, status, times, source,
decision and denial reason, identity *types*): reports count past requests, and the CCPA asks
for records of requests to be kept for 24 months (§7101). Emptied: the sealed identities (an
empty value, as the column is NOT NULL; it also marks the row as purged), the plan, the
operator's free-text extension reason, and the digest of the client's idempotency key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rightsflow.domain.requests import TERMINAL
from rightsflow.storage.tables import metadata, privacy_requests, utcnow

_pr = privacy_requests.c
_TERMINAL = sorted(s.value for s in TERMINAL)
# When a request was closed: closed_at since revision 0004; for older rows completed_at, and for
# older rows closed without completing (canceled) their last update.
_closed_at = sa.func.coalesce(_pr.closed_at, _pr.completed_at, _pr.updated_at)
_not_purged = sa.func.length(_pr.sealed_identities) > 0


def request_tables() -> list[tuple[sa.Table, sa.Column[str]]]:
    """(table, column) pairs whose rows belong to a request, children before parents."""
    owned: list[tuple[sa.Table, sa.Column[str]]] = []
    for table in reversed(metadata.sorted_tables):
        owned.extend(
            (table, fk.parent) for fk in table.foreign_keys if fk.column is privacy_requests.c.id
        )
    return owned


class SqlRetentionRepository:
    """Satisfies services.ports.RetentionRepository over the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def _eligible(self, cutoff: datetime) -> list[sa.ColumnElement[bool]]:
        return [_pr.status.in_(_TERMINAL), _closed_at < cutoff, _not_purged]

    def closed_before(self, cutoff: datetime, after: str | None, limit: int) -> Sequence[str]:
        query = sa.select(_pr.id).where(*self._eligible(cutoff)).order_by(_pr.id).limit(limit)
        if after is not None:
            query = query.where(_pr.id > after)
        return list(self._conn.execute(query).scalars())

    def count_closed_before(self, cutoff: datetime) -> int:
        query = sa.select(sa.func.count()).select_from(privacy_requests)
        return int(self._conn.execute(query.where(*self._eligible(cutoff))).scalar_one())

    def held(self, request_ids: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        if not request_ids:
            return counts
        ids = list(request_ids)
        for table, column in request_tables():
            query = (
                sa.select(column, sa.func.count())
                .where(column.in_(ids))
                .group_by(column)
                .select_from(table)
            )
            for request_id, count in self._conn.execute(query):
                counts[request_id][table.name] = int(count)
        return counts

    def purge(self, request_ids: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        if not request_ids:
            return {}
        # The tombstone first: its row locks make a concurrent purge of the same requests wait,
        # and then find them purged (RETURNING names only the rows this statement changed).
        tombstone = (
            privacy_requests.update()
            .where(_pr.id.in_(list(request_ids)), _not_purged)
            .values(
                sealed_identities=b"",
                plan=None,
                extension_reason=None,
                idempotency_key=None,
                updated_at=utcnow(),
            )
            .returning(_pr.id)
        )
        purged = sorted(self._conn.execute(tombstone).scalars())
        if not purged:
            return {}
        held = self.held(purged)
        for table, column in request_tables():
            self._conn.execute(table.delete().where(column.in_(purged)))
        return {request_id: dict(held.get(request_id, {})) for request_id in purged}

    def settle(self) -> None:
        if self._conn.dialect.name == "sqlite":
            # Copies of changed pages live in the WAL until a checkpoint; TRUNCATE empties it.
            self._conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
