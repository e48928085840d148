"""Verification challenges (the `verifications` table): one row per request, codes as hashes."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rightsflow.domain.errors import NotFound
from rightsflow.domain.verification import Challenge
from rightsflow.storage.tables import verifications

_vc = verifications.c
_COLUMNS = tuple(f.name for f in fields(Challenge))


class SqlVerificationRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, request_id: str, *, lock: bool = False) -> Challenge | None:
        """`lock` holds the row until the transaction ends, so two concurrent guesses cannot
        both count from the same attempts (a lost update would give extra guesses)."""
        query = sa.select(verifications).where(_vc.request_id == request_id)
        if lock and self._conn.dialect.name == "sqlite":
            self._take_sqlite_write_lock(request_id)
        elif lock:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        if row is None:
            return None
        return Challenge(**{name: row[name] for name in _COLUMNS})

    def _take_sqlite_write_lock(self, request_id: str) -> None:
        """SQLite has no row locks, and the Python driver opens a transaction only at the first
        write, so a read-then-write would read outside it. A write that changes nothing makes
        the transaction start here and take the database's write lock: other writers wait
        (busy_timeout) and then read what this one committed."""
        self._conn.execute(
            verifications.update().where(_vc.request_id == request_id).values(attempts=_vc.attempts)
        )

    def put(self, challenge: Challenge) -> None:
        """Insert or replace the request's challenge; NotFound if there is no such request.

        An UPDATE in place, not delete-then-insert: a transaction waiting on the row lock then
        reads the new version (on PostgreSQL a deleted row would read as no row at all)."""
        values: dict[str, Any] = {name: getattr(challenge, name) for name in _COLUMNS}
        update = verifications.update().where(_vc.request_id == challenge.request_id)
        if self._conn.execute(update.values(values)).rowcount > 0:
            return
        try:
            self._conn.execute(verifications.insert().values(values))
        except IntegrityError:
            raise NotFound("privacy request not found") from None
