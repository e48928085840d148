"""Wrapped per-request data keys in the app database (`request_keys`).

A destroyed key keeps its row with an empty `wrapped_key` (the tombstone): the vault then
refuses to seal anything more for that request instead of quietly making a new key. The table
has no foreign key on purpose: a key may be made before its request row is committed (the
request's identities are sealed before the row is inserted), and the tombstone outlives the
request's personal data.

Each call runs in its own short transaction on its own connection, committed at once: a key is
always stored before anything sealed under it can be. On SQLite that write needs the database
write lock, so a request's *first* seal must not happen inside another open write transaction
of the same process (it would wait for itself until busy_timeout). Requests get their key when
their identities are sealed on receipt; `unkeyed_open_requests` finds older requests still in
progress so that the composition root can give them a key before any work starts.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from rightsflow.domain.requests import TERMINAL
from rightsflow.storage.data_keys import TOMBSTONE
from rightsflow.storage.tables import privacy_requests, request_keys, utcnow

_k = request_keys.c


class SqlKeyStore:
    """The vault's KeyStore on the app database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, request_id: str) -> bytes | None:
        with self._engine.connect() as conn:
            return _stored(conn, request_id)

    def add(self, request_id: str, wrapped: bytes) -> bytes:
        if wrapped == TOMBSTONE:
            raise ValueError("a wrapped key is never empty")
        with self._engine.begin() as conn:
            _insert_if_absent(conn, request_id, wrapped)
            stored = _stored(conn, request_id)
        if stored is None:  # pragma: no cover - the row was inserted or already there
            raise RuntimeError("request key row vanished")
        return stored

    def destroy(self, request_id: str) -> bool:
        with self._engine.begin() as conn:
            emptied = conn.execute(
                request_keys.update()
                .where(_k.request_id == request_id, sa.func.length(_k.wrapped_key) > 0)
                .values(wrapped_key=TOMBSTONE)
            ).rowcount
            if emptied == 0:
                _insert_if_absent(conn, request_id, TOMBSTONE)
        return bool(emptied)

    def unkeyed_open_requests(self) -> list[str]:
        """Ids of requests not yet closed that have no key row (received before data keys)."""
        pr = privacy_requests.c
        query = (
            sa.select(pr.id)
            .select_from(privacy_requests.outerjoin(request_keys, _k.request_id == pr.id))
            .where(_k.request_id.is_(None), pr.status.not_in([s.value for s in TERMINAL]))
            .order_by(pr.id)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())


def _stored(conn: Connection, request_id: str) -> bytes | None:
    value = conn.execute(
        sa.select(_k.wrapped_key).where(_k.request_id == request_id)
    ).scalar_one_or_none()
    return None if value is None else bytes(value)


def _insert_if_absent(conn: Connection, request_id: str, wrapped: bytes) -> None:
    """Insert the row unless one exists (a concurrent creator's key, or a tombstone, wins)."""
    values = {"request_id": request_id, "wrapped_key": wrapped, "created_at": utcnow()}
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(request_keys)
        conn.execute(insert.values(values).on_conflict_do_nothing(index_elements=["request_id"]))
        return
    if _stored(conn, request_id) is None:  # other dialects: best effort
        conn.execute(request_keys.insert().values(values))
