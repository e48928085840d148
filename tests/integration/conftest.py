"""Shared fixtures: one PostgreSQL and one MariaDB server per session (started on first use),
and `sql_target`, a fresh database on SQLite, PostgreSQL and MariaDB in turn; `pg_server`, the
same PostgreSQL server under the name tests.support.db_runtime asks for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rightsflow.connectors.sql import SqlConfig
from tests.support.mariadb import MariaDbServer, start_mariadb
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.sql_targets import (
    Target,
    mariadb_target,
    postgres_target,
    sqlite_target,
)


@pytest.fixture(scope="session")
def sql_pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        server.create_database("connectors")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server(sql_pg_server: PostgresServer) -> PostgresServer:
    """The session's PostgreSQL again: tests.support.db_runtime makes uniquely named databases,
    so its tests need no server of their own."""
    return sql_pg_server


@pytest.fixture(scope="session")
def sql_pg_admin(sql_pg_server: PostgresServer) -> Iterator[sa.Engine]:
    engine = sa.create_engine(SqlConfig(url=sql_pg_server.url("connectors")).engine_url())
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sql_mariadb_server() -> Iterator[MariaDbServer]:
    server = start_mariadb()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def sql_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        target = sqlite_target(tmp_path / "system.db")
    elif request.param == "postgres":
        target = postgres_target(
            request.getfixturevalue("sql_pg_server"), request.getfixturevalue("sql_pg_admin")
        )
    else:
        target = mariadb_target(request.getfixturevalue("sql_mariadb_server"))
    yield target
    if target.backend != "postgres":  # the session's PostgreSQL admin engine is shared
        target.admin.dispose()
