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

    def get(self, request_id: str) -> Challenge | None:
        query = sa.select(verifications).where(_vc.request_id == request_id)
        row = self._conn.execute(query).mappings().first()
        if row is None:
            return None
        return Challenge(**{name: row[name] for name in _COLUMNS})

    def put(self, challenge: Challenge) -> None:
        """Insert or replace the request's challenge; NotFound if there is no such request.

        Delete-then-insert works the same on every dialect, and one request's row is written
        by one use case at a time (its unit of work), so there is no race to lose."""
        values: dict[str, Any] = {name: getattr(challenge, name) for name in _COLUMNS}
        self._conn.execute(verifications.delete().where(_vc.request_id == challenge.request_id))
        try:
            self._conn.execute(verifications.insert().values(values))
        except IntegrityError:
            raise NotFound("privacy request not found") from None
