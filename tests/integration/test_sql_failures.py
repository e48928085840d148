"""Failures of the `sql` connector on SQLite, PostgreSQL and MariaDB: named by collection,
column or constraint, never with SQL or values; MariaDB's error numbers classified."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from rightsflow.connectors.base import RowChange
from rightsflow.connectors.sql import SqlConfig, SqlConnector
from rightsflow.connectors.testing import CHILD, PARENT, contract_node
from rightsflow.domain.errors import ConnectorFailure
from tests.support.mariadb import MariaDbServer
from tests.support.sql_targets import Target, assert_safe, mariadb_target, seeded


@pytest.fixture
def target(sql_target: Target) -> Target:
    seeded(sql_target, customers=3)
    return sql_target


@pytest.fixture
def connector(target: Target) -> Iterator[SqlConnector]:
    connector = target.connector()
    yield connector
    connector.close()


def test_a_column_dropped_after_reflection_is_named(
    target: Target, connector: SqlConnector
) -> None:
    reader = contract_node(PARENT, ("id", "phone"))
    assert len(connector.retrieve(reader, {"email": ["user1@example.com"]})) == 1  # reflected
    target.execute(f"ALTER TABLE {target.qualified('customers')} DROP COLUMN phone")
    expected = r"^contract:customers: column\(s\) phone not found in table customers$"
    with pytest.raises(ConnectorFailure, match=expected) as caught:
        connector.retrieve(reader, {"email": ["user1@example.com"]})
    assert caught.value.retryable is False
    assert_safe(caught.value, "user1@example.com")
    # The stale reflection was dropped: the connector now sees the table as it is.
    masker = contract_node(PARENT, ("id",), "mask")
    with pytest.raises(ConnectorFailure, match=r"column\(s\) phone not found") as caught:
        connector.mask(masker, [RowChange({"id": 1}, {"phone": "+15550000"})])
    assert_safe(caught.value, "+15550000")
    assert connector.mask(masker, [RowChange({"id": 1}, {"name": "[masked]"})]) == 1


def test_a_column_dropped_under_a_mask_is_named(target: Target, connector: SqlConnector) -> None:
    masker = contract_node(PARENT, ("id",), "mask")
    assert connector.mask(masker, [RowChange({"id": 1}, {"phone": None})]) == 1  # reflected
    target.execute(f"ALTER TABLE {target.qualified('customers')} DROP COLUMN phone")
    with pytest.raises(ConnectorFailure, match=r"customers: column\(s\) phone not found") as caught:
        connector.mask(masker, [RowChange({"id": 2}, {"phone": "+15559999"})])
    assert caught.value.retryable is False
    assert_safe(caught.value, "+15559999")


def test_a_foreign_key_violation_names_the_constraint(
    target: Target, connector: SqlConnector
) -> None:
    with pytest.raises(ConnectorFailure, match="constraint violated") as caught:
        connector.delete(contract_node(PARENT, ("id",), "delete"), [{"id": 2}])
    assert caught.value.retryable is False
    assert_safe(caught.value)
    if target.backend == "sqlite":  # SQLite does not say which foreign key
        assert "SQLITE_CONSTRAINT_FOREIGNKEY" in str(caught.value)
    else:
        assert "constraint orders_fk" in str(caught.value)


def test_a_unique_violation_names_the_constraint_not_the_value(
    target: Target, connector: SqlConnector
) -> None:
    target.execute(
        f"CREATE UNIQUE INDEX customers_email_key ON {target.qualified('customers')} (email)"
    )
    changes = [RowChange({"id": i}, {"email": "jane.roe@example.com"}) for i in (1, 2)]
    with pytest.raises(ConnectorFailure, match="constraint violated") as caught:
        connector.mask(contract_node(PARENT, ("id",), "mask"), changes)
    assert caught.value.retryable is False
    assert_safe(caught.value, "jane.roe", "user1", "user2")
    name = "customers.email" if target.backend == "sqlite" else "customers_email_key"
    assert f"constraint {name}" in str(caught.value)
    emails = {row["email"] for row in target.read_all(PARENT)}
    assert "jane.roe@example.com" not in emails  # rolled back


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def failure_of(url: str) -> ConnectorFailure:
    connector = SqlConnector(SqlConfig(url=url, connect_timeout=2))
    try:
        with pytest.raises(ConnectorFailure) as caught:
            connector.check()
    finally:
        connector.close()
    assert_safe(caught.value, "hunter2", "jane")
    return caught.value


def test_unreachable_mysql_is_retryable() -> None:
    failure = failure_of(f"mysql://jane:hunter2@127.0.0.1:{free_port()}/shop")
    assert str(failure) == "sql connector: database unreachable (OperationalError, 2003)"
    assert failure.retryable is True


@pytest.mark.mariadb
def test_mariadb_refuses_a_wrong_user_or_database_without_retry(
    sql_mariadb_server: MariaDbServer,
) -> None:
    server = sql_mariadb_server
    for url, code in (
        (server.url().replace("root@", "jane:hunter2@"), 1045),
        (server.url("jane_db"), 1049),
    ):
        failure = failure_of(url.replace("mysql+pymysql://", "mariadb://"))
        assert (
            str(failure)
            == f"sql connector: database refused the connection (OperationalError, {code})"
        )
        assert failure.retryable is False


@pytest.mark.mariadb
def test_mariadb_lock_wait_timeout_is_retryable(sql_mariadb_server: MariaDbServer) -> None:
    target = mariadb_target(sql_mariadb_server)
    seeded(target)
    url = f"{target.config.url}?init_command=SET innodb_lock_wait_timeout=1"
    connector = SqlConnector(SqlConfig(url=url))
    change = RowChange({"customer_id": 1, "line": 1}, {"note": "Jane's note"})
    try:
        with target.admin.connect() as locker:
            locker.execute(sa.text("SELECT * FROM orders WHERE customer_id = 1 FOR UPDATE"))
            with pytest.raises(ConnectorFailure, match=r"lock wait or deadlock") as caught:
                connector.mask(contract_node(CHILD, ("note",), "mask"), [change])
            locker.rollback()
        assert str(caught.value).endswith("(OperationalError, 1205)")
        assert caught.value.retryable is True
        assert_safe(caught.value, "Jane")
        assert connector.mask(contract_node(CHILD, ("note",), "mask"), [change]) == 1
    finally:
        connector.close()
        target.admin.dispose()
