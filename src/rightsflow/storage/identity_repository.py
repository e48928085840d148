"""Identity lookup hashes in the app database (`identity_hashes`); see
services/identity_lookup.py for what is hashed and how values are normalised first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rightsflow.storage.tables import identity_hashes, privacy_requests

_h = identity_hashes.c


class SqlIdentityHashRepository:
    """Satisfies services.ports.IdentityHashRepository over the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, request_id: str, hashes: Mapping[str, str]) -> None:
        rows = [{"request_id": request_id, "kind": k, "hash": h} for k, h in hashes.items()]
        if rows:
            self._conn.execute(identity_hashes.insert(), rows)

    def request_ids(self, kind: str, digest: str, limit: int) -> Sequence[str]:
        pr = privacy_requests.c
        query = (
            sa.select(_h.request_id)
            .join(privacy_requests, pr.id == _h.request_id)
            .where(_h.kind == kind, _h.hash == digest)
            .order_by(pr.received_at, pr.id)
            .limit(limit)
        )
        return list(self._conn.execute(query).scalars())
