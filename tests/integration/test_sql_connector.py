"""The `sql` connector against real databases: SQLite files, a throwaway PostgreSQL and a
throwaway MariaDB (`sql_target` in conftest runs each test on all three)."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rightsflow.connectors.base import RowChange
from rightsflow.connectors.sql import SqlConfig, SqlConnector
from rightsflow.connectors.testing import CHILD, PARENT, contract_node, run_contract
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode
from tests.support.postgres import PostgresServer
from tests.support.sql_targets import (
    CHUNK,
    Target,
    assert_safe,
    create_tables,
    postgres_target,
    seeded,
)


@pytest.fixture
def target(sql_target: Target) -> Target:
    return sql_target


@pytest.fixture
def connector(target: Target) -> Iterator[SqlConnector]:
    connector = target.connector()
    yield connector
    connector.close()


def test_sql_connector_passes_the_contract(target: Target, connector: SqlConnector) -> None:
    run_contract(connector, target.seed, target.read_all, chunk_size=CHUNK)


def test_one_chunk_per_value_still_passes(target: Target) -> None:
    connector = target.connector(chunk_size=1)
    try:
        run_contract(connector, target.seed, target.read_all, chunk_size=1)
    finally:
        connector.close()


def test_one_engine_and_no_connection_per_row(target: Target, connector: SqlConnector) -> None:
    seeded(target, customers=40)
    connects: list[object] = []
    sa.event.listen(connector.engine, "connect", lambda *_: connects.append(1))
    assert connector.engine is connector.engine
    ids = list(range(1, 41))
    parent, child = contract_node(PARENT, ("id",)), contract_node(CHILD, ("note",), "mask")
    assert len(connector.retrieve(parent, {"id": ids})) == 40
    assert len(connector.fetch_by_keys(parent, [{"id": i} for i in ids])) == 40
    changes = [RowChange({"customer_id": i, "line": 1}, {"note": None}) for i in ids]
    assert connector.mask(child, changes) == 40
    assert connects == [1]


def test_composite_key_from_the_table_when_the_node_has_none(
    target: Target, connector: SqlConnector
) -> None:
    seeded(target)
    node = PlanNode(**{**contract_node(CHILD, ("sku", "note")).__dict__, "primary_key": ()})
    rows = connector.fetch_by_keys(
        node, [{"customer_id": 2, "line": 1}, {"customer_id": 3, "line": 2}]
    )
    assert sorted(r["note"] for r in rows) == ["note 2/1", "note 3/2"]
    assert connector.delete(node, [{"customer_id": 2, "line": 1}]) == 1


def test_missing_table_and_column_are_not_retryable(
    target: Target, connector: SqlConnector
) -> None:
    node = PlanNode(**{**contract_node(PARENT, ("id",)).__dict__, "address": "contract:gone"})
    with pytest.raises(ConnectorFailure, match=r"^contract:gone: table gone not found$") as caught:
        connector.retrieve(node, {"id": [1]})
    assert caught.value.retryable is False
    with pytest.raises(ConnectorFailure, match=r"column.* shoe_size not found") as caught:
        connector.retrieve(contract_node(PARENT, ("id", "shoe_size")), {"id": [1]})
    assert caught.value.retryable is False


def test_a_table_dropped_after_reflection_is_reported_by_name(
    target: Target, connector: SqlConnector
) -> None:
    seeded(target)
    node = contract_node(CHILD, ("note",))
    assert len(connector.retrieve(node, {"customer_id": [1]})) == 2
    target.tables[CHILD].drop(target.admin)
    with pytest.raises(
        ConnectorFailure, match=r"contract:orders: table (t_\w+\.)?orders not found"
    ) as caught:
        connector.retrieve(node, {"customer_id": [424242]})
    assert caught.value.retryable is False
    assert_safe(caught.value, "424242")


def test_constraint_violation_rolls_back_the_whole_delete(
    target: Target, connector: SqlConnector
) -> None:
    seeded(target, customers=CHUNK + 1)
    orphans = [{"customer_id": i, "line": line} for i in range(1, CHUNK + 1) for line in (1, 2)]
    assert connector.delete(contract_node(CHILD, ("note",), "delete"), orphans) == 2 * CHUNK
    parents = [{"id": i} for i in range(1, CHUNK + 2)]  # the last one still has orders
    with pytest.raises(ConnectorFailure, match=r"constraint.* violated") as caught:
        connector.delete(contract_node(PARENT, ("id",), "delete"), parents)
    assert caught.value.retryable is False
    assert_safe(caught.value, f"{CHUNK + 1}")
    assert len(target.read_all(PARENT)) == CHUNK + 1  # the first chunk was rolled back too


def test_nested_lookups_are_refused(connector: SqlConnector) -> None:
    with pytest.raises(ConnectorFailure, match="nested lookups are not supported") as caught:
        connector.retrieve(contract_node(PARENT, ("id",)), {"profile.email": ["a@b.c"]})
    assert caught.value.retryable is False


def test_close_releases_the_pool_and_the_connector_reconnects(
    target: Target, connector: SqlConnector
) -> None:
    seeded(target)
    first = connector.engine
    connector.close()
    assert connector.engine is not first
    assert len(connector.fetch_by_keys(contract_node(PARENT, ("id",)), [{"id": 1}])) == 1
    connector.check()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgres_is_retryable_and_says_nothing_personal() -> None:
    url = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/shop"
    connector = SqlConnector(SqlConfig(url=url, connect_timeout=2))
    try:
        with pytest.raises(ConnectorFailure) as caught:
            connector.check()
        assert str(caught.value) == "sql connector: database unreachable (OperationalError)"
        assert caught.value.retryable is True
        with pytest.raises(ConnectorFailure) as caught:
            connector.retrieve(contract_node(PARENT, ("id",)), {"email": ["jane@example.com"]})
        assert str(caught.value) == "contract:customers: database unreachable (OperationalError)"
        assert caught.value.retryable is True
        assert_safe(caught.value, "jane@example.com", "hunter2")
    finally:
        connector.close()


def test_unopenable_sqlite_file_is_retryable(tmp_path: Path) -> None:
    connector = SqlConnector(SqlConfig(url=f"sqlite:///{tmp_path / 'missing' / 'x.db'}"))
    with pytest.raises(ConnectorFailure, match="database unreachable") as caught:
        connector.check()
    assert caught.value.retryable is True
    connector.close()


def test_sqlite_waits_for_a_busy_database_then_fails_retryably(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    admin = sa.create_engine(f"sqlite:///{path}")
    config = SqlConfig(url=f"sqlite:///{path}")
    target = Target("sqlite", admin, create_tables(admin, None), config)
    seeded(target)
    connector = target.connector(connect_timeout=0.3)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        change = RowChange({"id": 1}, {"name": "Jane Roe"})
        with pytest.raises(ConnectorFailure, match="SQLITE_BUSY") as caught:
            connector.mask(contract_node(PARENT, ("id",), "mask"), [change])
        assert time.monotonic() - started >= 0.25
        assert caught.value.retryable is True
        assert_safe(caught.value, "Jane Roe")
        locker.execute("ROLLBACK")
        assert connector.mask(contract_node(PARENT, ("id",), "mask"), [change]) == 1
    finally:
        locker.close()
        connector.close()
        admin.dispose()


def test_lookup_values_are_coerced_to_the_column_type(
    target: Target, connector: SqlConnector
) -> None:
    seeded(target)
    node = contract_node(PARENT, ("id",))
    assert connector.retrieve(node, {"id": ["jane@example.com", " 2 ", "3"]}) == [
        {"id": 2},
        {"id": 3},
    ]
    assert connector.retrieve(node, {"id": ["jane@example.com"], "email": [7]}) == []
    assert connector.retrieve(node, {"id": ["jane@example.com", None]}) == []


@pytest.mark.postgres
def test_a_missing_database_or_role_is_refused_not_retried(sql_pg_server: PostgresServer) -> None:
    server = sql_pg_server
    for url in (server.url("no_such_db"), server.url().replace("postgres@", "nobody@")):
        connector = SqlConnector(SqlConfig(url=url))
        with pytest.raises(ConnectorFailure) as caught:
            connector.check()
        assert (
            str(caught.value) == "sql connector: database refused the connection (OperationalError)"
        )
        assert caught.value.retryable is False
        assert_safe(caught.value, "no_such_db", "nobody")
        connector.close()


@pytest.mark.postgres
def test_postgres_rejects_a_bad_value_without_echoing_it(
    sql_pg_server: PostgresServer, sql_pg_admin: sa.Engine
) -> None:
    target = postgres_target(sql_pg_server, sql_pg_admin)
    seeded(target)
    connector = target.connector()
    change = RowChange({"customer_id": 1, "line": 1}, {"note": "jane\x00doe"})
    try:
        with pytest.raises(ConnectorFailure, match=r"value rejected.*DataError") as caught:
            connector.mask(contract_node(CHILD, ("note",), "mask"), [change])
        assert caught.value.retryable is False
        assert_safe(caught.value, "jane")
    finally:
        connector.close()


def test_the_guard_and_composite_keys_in_each_dialect(
    target: Target, connector: SqlConnector
) -> None:
    seeded(target, customers=CHUNK + 2)
    updates: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE"):
            updates.append(statement.replace("`", "").replace(f"{target.schema}.", ""))

    sa.event.listen(connector.engine, "before_cursor_execute", record)
    keys = [{"customer_id": i, "line": 1} for i in range(1, CHUNK + 3)]
    changes = [RowChange(key, {"note": None, "sku": "SKU-X"}) for key in keys]
    assert connector.mask(contract_node(CHILD, ("note",), "mask"), changes) == CHUNK + 2
    assert len(updates) == 3  # chunks of CHUNK // 2 keys: two key columns per key
    assert all("(orders.customer_id, orders.line) IN" in sql for sql in updates)
    guard = {"sqlite": "sku IS ?", "postgres": "sku IS NOT DISTINCT FROM", "mariadb": "sku <=>"}
    assert all(guard[target.backend] in sql for sql in updates), updates[0]
    assert connector.mask(contract_node(CHILD, ("note",), "mask"), changes) == 0
