"""Engines and schema migrations for the app database (SQLite by default, PostgreSQL at scale)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
    # Deleted content is overwritten with zeros instead of left in free pages: a destroyed data
    # key or a purged request's sealed data does not linger in the database file (the purge
    # also checkpoints the WAL, which holds the last copies of changed pages).
    "PRAGMA secure_delete=ON",
)


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; plain `postgresql://` (or `postgres://`) uses psycopg 3."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An Engine for the app database. SQLite gets WAL and foreign keys on every connection."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, **kwargs)
    _create_sqlite_parent(parsed)
    engine = sa.create_engine(parsed, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _create_sqlite_parent(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic Config built in code; pass the Connection the migrations must run on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`. Idempotent; concurrent callers are serialised."""
    with engine.begin() as connection:
        take_write_lock(connection, "rightsflow.migrations")
        command.upgrade(alembic_config(connection), revision)


def upgrade_database(url: str) -> None:
    """Run `upgrade head` on the database at `url` (safe to call on every start)."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def take_write_lock(connection: Connection, name: str) -> None:
    """Serialise writers of `name` until the current transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite: `BEGIN IMMEDIATE` (the database write
    lock; waits up to busy_timeout). Must be the first statement of the transaction on SQLite.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        digest = hashlib.sha256(name.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
