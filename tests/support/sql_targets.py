"""Databases for the `sql` connector's integration tests: SQLite, PostgreSQL and MariaDB.

A `Target` is a fresh, empty place (a SQLite file, a PostgreSQL schema, a MariaDB database)
holding the contract fixture's tables, with an admin engine to seed and read it and the
connector configuration that points at it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from rightsflow.connectors.base import Row
from rightsflow.connectors.sql import SqlConfig, SqlConnector
from rightsflow.connectors.testing import CONTRACT_COLLECTIONS, contract_rows
from rightsflow.domain.errors import ConnectorFailure
from tests.support.mariadb import MariaDbServer
from tests.support.postgres import PostgresServer

CHUNK = 7
BACKENDS = ("sqlite", "postgres", "mariadb")
SQL_WORDS = ("SELECT", "UPDATE", "DELETE", "WHERE", "select", "where")


@dataclass
class Target:
    """A database holding the contract fixture's (empty) tables, and a connector to it."""

    backend: str
    admin: sa.Engine
    tables: dict[str, sa.Table]
    config: SqlConfig
    schema: str | None = None

    def connector(self, **changes: object) -> SqlConnector:
        return SqlConnector(self.config.model_copy(update=changes))

    def seed(self, address: str, rows: list[Row]) -> None:
        with self.admin.begin() as conn:
            conn.execute(self.tables[address].insert(), rows)

    def read_all(self, address: str) -> list[Row]:
        with self.admin.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(self.tables[address])).mappings()]

    def execute(self, statement: str) -> None:
        with self.admin.begin() as conn:
            conn.execute(sa.text(statement))

    def create(self, *tables: sa.Table) -> None:
        """Create extra tables (built on `self.metadata()`) in the target."""
        for table in tables:
            table.create(self.admin)

    def metadata(self) -> sa.MetaData:
        return sa.MetaData(schema=self.schema)

    def qualified(self, table: str) -> str:
        return f"{self.schema}.{table}" if self.schema else table


def create_tables(engine: sa.Engine, schema: str | None) -> dict[str, sa.Table]:
    metadata = sa.MetaData(schema=schema)
    # String(200), not Text: MariaDB cannot index TEXT without a prefix length.
    types = {int: sa.Integer, str: sa.String(200)}
    tables = {}
    for spec in CONTRACT_COLLECTIONS:
        columns = [sa.Column(name, types[kind]) for name, kind in spec.columns]
        foreign = [
            sa.ForeignKeyConstraint(
                [column], [f"{schema}.{target}" if schema else target], name=f"{spec.name}_fk"
            )
            for column, target in spec.foreign_keys
        ]
        tables[spec.address] = sa.Table(
            spec.name, metadata, *columns, sa.PrimaryKeyConstraint(*spec.primary_key), *foreign
        )
    metadata.create_all(engine)
    return tables


def sqlite_target(path: Path) -> Target:
    url = f"sqlite:///{path}"
    admin = sa.create_engine(url)
    sa.event.listen(admin, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
    config = SqlConfig(url=url, chunk_size=CHUNK)
    return Target("sqlite", admin, create_tables(admin, None), config)


def postgres_target(server: PostgresServer, admin: sa.Engine) -> Target:
    """A fresh schema in the session's database, named in the connector's config."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    config = SqlConfig.model_validate(
        {"url": server.url("connectors"), "schema": schema, "chunk_size": CHUNK}
    )
    return Target("postgres", admin, create_tables(admin, schema), config, schema)


def mariadb_target(server: MariaDbServer) -> Target:
    """A fresh database; the connector's URL names it, as `mysql://` (the bare scheme)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    admin = sa.create_engine(server.url(name))
    url = server.url(name).replace("mysql+pymysql://", "mysql://")
    config = SqlConfig(url=url, chunk_size=CHUNK)
    return Target("mariadb", admin, create_tables(admin, None), config)


def seeded(target: Target, customers: int = 3) -> None:
    for address, rows in contract_rows(customers).items():
        target.seed(address, rows)


def assert_safe(failure: ConnectorFailure, *values: str) -> None:
    """No SQL, none of `values`, and no chained exception that could carry either."""
    message = str(failure)
    assert not any(word in message for word in SQL_WORDS), message
    assert not any(value in message for value in values), message
    assert failure.__cause__ is None
    assert failure.__context__ is None
