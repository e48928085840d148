"""Moving wrapped data keys out of the app database (revisions 0004-0006 kept them in
`request_keys`) into the key database, before migration 0007 drops that table.

A batch at a time: copy into the key database and commit there, then delete from the app
database. Stopped anywhere, the next start finishes: copying is insert-if-absent, and a row is
deleted from the app database only once the key database holds it. Keys of those revisions were
all wrapped by the KEK now called version 1. Afterwards SQLite's write-ahead log is checkpointed
(secure_delete has zeroed the deleted rows in the file). Backups of the app database taken
before the upgrade still hold those wrapped keys: retire them like the key database backups.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.data_keys import TOMBSTONE
from rightsflow.storage.kek import LocalKekProvider
from rightsflow.storage.key_store import SqlKeyStore

LEGACY_KEK = LocalKekProvider.LEGACY_KEY_ID
_legacy = sa.Table(
    "request_keys",
    sa.MetaData(),
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
)


def move_app_keys(app_engine: Engine, store: SqlKeyStore, batch: int = 1000) -> int:
    """Move every row of the app database's `request_keys` (if the table is there) into the
    key store; the number moved."""
    if not sa.inspect(app_engine).has_table("request_keys"):
        return 0
    moved = 0
    while True:
        query = sa.select(_legacy.c.request_id, _legacy.c.wrapped_key).limit(batch)
        with app_engine.connect() as conn:
            rows = [(rid, bytes(wrapped)) for rid, wrapped in conn.execute(query)]
        if not rows:
            break
        version = legacy_version(store)
        store.adopt((rid, w, None if w == TOMBSTONE else version) for rid, w in rows)
        with app_engine.begin() as conn:
            conn.execute(_legacy.delete().where(_legacy.c.request_id.in_([r for r, _ in rows])))
        moved += len(rows)
    if moved and app_engine.dialect.name == "sqlite":
        with app_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return moved


def legacy_version(store: SqlKeyStore) -> int:
    """The version number of the KEK that wrapped keys before versions existed (version 1,
    recorded now if the key database has no version yet)."""
    versions = store.versions()
    for known in versions:
        if known.key_id == LEGACY_KEK:
            return known.version
    if versions:
        raise RightsflowError(
            "the app database holds data keys of the local master key, but the key database "
            "has no local version 1 to put them under"
        )
    store.add_version(1, LEGACY_KEK)
    return 1
