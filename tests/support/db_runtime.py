"""A runtime (or a database URL) on SQLite or on a fresh database of a real PostgreSQL server,
for the tests that check the same queries on both. The server comes from the `pg_server` fixture
(tests/integration/conftest.py), asked for only by the PostgreSQL case, so SQLite-only runs
never start one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from tests.support.postgres import PostgresServer
from tests.support.stack import make_shop

# The `params` of a fixture that runs each test once per database.
DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pg_database_url(request: pytest.FixtureRequest, prefix: str = "db") -> str:
    """The URL of a new, empty database on the `pg_server` fixture's PostgreSQL."""
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.url(name)


@contextmanager
def runtime_on(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    *,
    customers: int = 2,
    prefix: str = "db",
    **settings_extra: Any,
) -> Iterator[Runtime]:
    """A runtime over a sample shop of `customers`, on the database `request.param` names;
    `settings_extra` are further Settings fields (e.g. auto_approve)."""
    _db, mapdir = make_shop(tmp_path, customers=customers)
    database_url = pg_database_url(request, prefix) if request.param == "postgres" else None
    settings = Settings(
        data_dir=tmp_path / "data",
        datamap_dir=mapdir,
        database_url=database_url,
        **settings_extra,
    )
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()
