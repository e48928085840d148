"""The key database: wrapped per-request data keys and the KEK versions that wrap them.

Kept apart from the app database on purpose: crypto-shredding must reach backups too. If the
wrapped keys lived in the app database, every backup of it would hold them, and the master key
would unwrap them long after a key was destroyed. So backups of the app database hold sealed
data only, and the key database (`data_dir/keys.db` by default, `key_database_url` for e.g. a
separate PostgreSQL database) is backed up on its own with a retention no longer than the
shredding promise.

The schema is two small tables made with `metadata.create_all` on start, plus a version row
that refuses a key database newer than this code (no Alembic branch: one more migration chain
for three tables would cost more than it saves; a change later bumps SCHEMA_VERSION and adds
its step to `open_key_database`).

Requests received before data keys and still open get their key at start (make_vault), so no
request's *first* seal happens inside another write transaction (see unkeyed_open_requests).
That scan reads every open request, so once one start has found them all keyed it records so
in `key_schema` (row OPEN_KEYED) and later starts skip it: start-up cost stays independent of
the number of requests. Requests made since get their key on receipt, before their row exists.
(Pairing a flagged key database with an app database restored from before data keys skips the
scan: those requests get their key at their first seal, which only matters when both databases
are one SQLite file.)

A destroyed key keeps its row with an empty `wrapped_key` (the tombstone): the vault then
refuses to seal anything more for that request instead of quietly making a new key. Each call
runs in its own short transaction, committed at once: a key is always stored before anything
sealed under it can be.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.requests import TERMINAL
from rightsflow.storage.data_keys import TOMBSTONE, StoredKey
from rightsflow.storage.kek import KekVersion
from rightsflow.storage.migrate import make_engine
from rightsflow.storage.tables import UtcDateTime, privacy_requests, utcnow

SCHEMA_VERSION = 1
# Not a schema version: a flag row in key_schema, present once a start found every open request
# of the app database keyed (older code reads only the "keys" row).
OPEN_KEYED = "open_requests_keyed"
key_metadata = sa.MetaData()

key_schema = sa.Table(
    "key_schema",
    key_metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
)

kek_versions = sa.Table(
    "kek_versions",
    key_metadata,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.String(512), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("retired_at", UtcDateTime(), nullable=True),
)

# No foreign key to the request: a key may be made before its request row is committed, and
# the request rows live in another database anyway.
data_keys = sa.Table(
    "data_keys",
    key_metadata,
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
    sa.Column("kek_version", sa.Integer(), nullable=True, index=True),  # None: tombstone
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("rewrapped_at", UtcDateTime(), nullable=True),
)
_k = data_keys.c
_v = kek_versions.c
_live = sa.func.length(_k.wrapped_key) > 0


def open_key_database(url: str) -> Engine:
    """An engine on the key database, its tables created if missing; refuses a newer schema."""
    engine = make_engine(url)
    with engine.begin() as conn:
        key_metadata.create_all(conn)
        stored = conn.execute(
            sa.select(key_schema.c.version).where(key_schema.c.name == "keys")
        ).scalar_one_or_none()
        if stored is None:
            conn.execute(key_schema.insert().values(name="keys", version=SCHEMA_VERSION))
        elif stored > SCHEMA_VERSION:
            engine.dispose()
            raise RightsflowError(
                f"the key database has schema version {stored}; this Rightsflow knows "
                f"{SCHEMA_VERSION}: upgrade Rightsflow"
            )
    return engine


class SqlKeyStore:
    """The vault's KeyStore on the key database, and the KEK versions for rotation."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, request_id: str) -> StoredKey | None:
        with self.engine.connect() as conn:
            return _stored(conn, request_id)

    def add(self, request_id: str, wrapped: bytes, kek_version: int) -> StoredKey:
        if wrapped == TOMBSTONE:
            raise ValueError("a wrapped key is never empty")
        with self.engine.begin() as conn:
            _insert_if_absent(conn, [_row(request_id, wrapped, kek_version)])
            stored = _stored(conn, request_id)
        if stored is None:  # pragma: no cover - the row was inserted or already there
            raise RuntimeError("request key row vanished")
        return stored

    def destroy(self, request_id: str) -> bool:
        with self.engine.begin() as conn:
            emptied = conn.execute(
                data_keys.update()
                .where(_k.request_id == request_id, _live)
                .values(wrapped_key=TOMBSTONE, kek_version=None)
            ).rowcount
            if emptied == 0:
                _insert_if_absent(conn, [_row(request_id, TOMBSTONE, None)])
        if emptied and self.engine.dialect.name == "sqlite":
            # secure_delete zeroed the old bytes in the file; the WAL still holds a copy of the
            # page until a checkpoint (TRUNCATE also empties the WAL file).
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return bool(emptied)

    def adopt(self, rows: Iterable[tuple[str, bytes, int | None]]) -> None:
        """Store rows moved from elsewhere (request id, wrapped, version); existing rows win."""
        batch = [_row(rid, wrapped, version) for rid, wrapped, version in rows]
        if batch:
            with self.engine.begin() as conn:
                _insert_if_absent(conn, batch)

    def keyed(self, request_ids: Sequence[str]) -> set[str]:
        """Which of these requests have a row (a live key or a tombstone)."""
        if not request_ids:
            return set()
        query = sa.select(_k.request_id).where(_k.request_id.in_(list(request_ids)))
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def open_requests_keyed(self) -> bool:
        """Whether a start already found every open request keyed (see the module doc)."""
        query = sa.select(key_schema.c.version).where(key_schema.c.name == OPEN_KEYED)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def record_open_requests_keyed(self) -> None:
        # Another process starting at the same time may have been first.
        with contextlib.suppress(sa.exc.IntegrityError), self.engine.begin() as conn:
            conn.execute(key_schema.insert().values(name=OPEN_KEYED, version=1))

    # KEK versions and rotation (storage/kek_rotation.py)

    def versions(self) -> list[KekVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(kek_versions).order_by(_v.version)).mappings()
            return [KekVersion(**row) for row in rows]

    def add_version(self, version: int, key_id: str) -> bool:
        """Record a new KEK version; False if that version number exists already."""
        values = {"version": version, "key_id": key_id, "created_at": utcnow()}
        try:
            with self.engine.begin() as conn:
                conn.execute(kek_versions.insert().values(values))
        except sa.exc.IntegrityError:  # another process added it first
            return False
        return True

    def retire(self, version: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                kek_versions.update()
                .where(_v.version == version, _v.retired_at.is_(None))
                .values(retired_at=at)
            )

    def counts(self) -> dict[int | None, int]:
        """Live keys per KEK version; None counts the tombstones."""
        query = sa.select(_k.kek_version, sa.func.count()).group_by(_k.kek_version)
        with self.engine.connect() as conn:
            return {version: int(n) for version, n in conn.execute(query)}

    def wrapped_under_older(
        self, version: int, after: str | None, limit: int
    ) -> list[tuple[str, StoredKey]]:
        """Live keys wrapped under versions older than `version`, by request id after `after`."""
        query = (
            sa.select(_k.request_id, _k.wrapped_key, _k.kek_version)
            .where(_live, _k.kek_version < version)
            .order_by(_k.request_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(_k.request_id > after)
        with self.engine.connect() as conn:
            return [(r, StoredKey(bytes(w), v)) for r, w, v in conn.execute(query)]

    def rewrap(self, changes: Sequence[tuple[str, StoredKey, bytes]], version: int) -> int:
        """Replace each (request id, old, new wrapped) in one transaction, a row only if it
        still holds `old`: a key destroyed (or re-wrapped by another run) meanwhile is left
        as it is, never brought back. The number replaced."""
        done = 0
        with self.engine.begin() as conn:
            for request_id, old, wrapped in changes:
                done += conn.execute(
                    data_keys.update()
                    .where(
                        _k.request_id == request_id,
                        _k.wrapped_key == old.wrapped,
                        _k.kek_version == old.kek_version,
                    )
                    .values(wrapped_key=wrapped, kek_version=version, rewrapped_at=utcnow())
                ).rowcount
        return done


def _row(request_id: str, wrapped: bytes, version: int | None) -> dict[str, object]:
    return {
        "request_id": request_id,
        "wrapped_key": wrapped,
        "kek_version": None if wrapped == TOMBSTONE else version,
        "created_at": utcnow(),
    }


def _stored(conn: Connection, request_id: str) -> StoredKey | None:
    row = conn.execute(
        sa.select(_k.wrapped_key, _k.kek_version).where(_k.request_id == request_id)
    ).first()
    return None if row is None else StoredKey(bytes(row[0]), row[1])


def _insert_if_absent(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Insert the rows unless they exist (a concurrent creator's key, or a tombstone, wins)."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(data_keys)
        conn.execute(insert.on_conflict_do_nothing(index_elements=["request_id"]), rows)
        return
    for row in rows:  # other dialects: best effort
        if _stored(conn, str(row["request_id"])) is None:
            conn.execute(data_keys.insert().values(row))


def open_request_ids(app_engine: Engine, batch: int = 1000) -> Iterator[list[str]]:
    """Ids of requests not yet closed, from the app database, a batch at a time."""
    pr = privacy_requests.c
    after = ""
    while True:
        query = (
            sa.select(pr.id)
            .where(pr.status.not_in([s.value for s in TERMINAL]), pr.id > after)
            .order_by(pr.id)
            .limit(batch)
        )
        with app_engine.connect() as conn:
            ids = list(conn.execute(query).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


def unkeyed_open_requests(app_engine: Engine, store: SqlKeyStore) -> list[str]:
    """Open requests with no key row (received before data keys). Two databases, so no join:
    open ids a batch at a time from the app database, then which of them the key store has.

    Only until a scan finds none: that is recorded (OPEN_KEYED), and from then on this is one
    indexed read. The flag is written only after a scan *saw* every open request keyed, never
    on the promise that the caller will key the ones returned (a start that fails half-way
    scans again next time)."""
    if store.open_requests_keyed():
        return []
    missing: list[str] = []
    for ids in open_request_ids(app_engine):
        keyed = store.keyed(ids)
        missing.extend(rid for rid in ids if rid not in keyed)
    if not missing:
        store.record_open_requests_keyed()
    return missing
