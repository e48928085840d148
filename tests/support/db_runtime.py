"""A runtime on SQLite or on a fresh database of a real PostgreSQL server, for the tests that
check the same queries on both. The server comes from the `pg_server` fixture
(tests/integration/conftest.py), asked for only by the PostgreSQL case, so SQLite-only runs
never start one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from tests.support.postgres import PostgresServer
from tests.support.stack import make_shop

# The `params` of a fixture that runs each test once per database.
DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def runtime_on(
    request: pytest.FixtureRequest, tmp_path: Path, *, customers: int = 2, prefix: str = "db"
) -> Iterator[Runtime]:
    """A runtime over a sample shop of `customers`, on the database `request.param` names."""
    _db, mapdir = make_shop(tmp_path, customers=customers)
    database_url = None
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("pg_server")
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        server.create_database(name)
        database_url = server.url(name)
    settings = Settings(data_dir=tmp_path / "data", datamap_dir=mapdir, database_url=database_url)
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()
