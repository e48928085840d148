"""`retrieve_pages` of the `sql` connector on SQLite, PostgreSQL and MariaDB: keyset pages
read lazily, each row once, bounded memory, tables without a primary key."""

from __future__ import annotations

import gc
import re
import tracemalloc
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from rightsflow.connectors.sql import SqlConnector
from rightsflow.connectors.testing import CHILD, PARENT, contract_node
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode
from tests.support.sql_targets import Target, assert_safe, seeded


@pytest.fixture
def target(sql_target: Target) -> Target:
    return sql_target


@pytest.fixture
def connector(target: Target) -> Iterator[SqlConnector]:
    connector = target.connector()
    yield connector
    connector.close()


def record_selects(connector: SqlConnector, table: str) -> list[tuple[str, object]]:
    """The SELECTs from `table` the connector runs from now on (not reflection's queries)."""
    statements: list[tuple[str, object]] = []
    reads = re.compile(rf"^SELECT\s.*\sFROM\s+([`\w]+\.)?`?{table}\b", re.DOTALL)

    def before(_conn: object, _cursor: object, statement: str, params: object, *_: object) -> None:
        if reads.match(statement.strip()):
            statements.append((statement, params))

    sa.event.listen(connector.engine, "before_cursor_execute", before)
    return statements


def many_orders(target: Target, customers: int, lines: int, note: str = "") -> None:
    seeded(target, customers)
    target.seed(
        CHILD,
        [
            {"customer_id": c, "line": line, "sku": "SKU", "note": f"{note}{c}/{line}"}
            for c in range(1, customers + 1)
            for line in range(3, lines + 3)
        ],
    )


def test_pages_are_keyset_pages_read_one_statement_at_a_time(
    target: Target, connector: SqlConnector
) -> None:
    many_orders(target, customers=2, lines=33)  # customer 1 has 35 orders
    statements = record_selects(connector, "orders")
    node = contract_node(CHILD, ("line",))
    pages = connector.retrieve_pages(node, {"customer_id": [1]}, 10)
    first = next(pages)
    reads = len(statements)
    assert [row["line"] for row in first] == list(range(1, 11))  # in key order
    assert reads == 1  # one page, one statement
    rest = list(pages)
    assert [len(page) for page in rest] == [10, 10, 5]
    assert sorted(r["line"] for page in [first, *rest] for r in page) == list(range(1, 36))
    pages_read = [s for s, _ in statements if "ORDER BY" in s]
    assert len(pages_read) == 4
    for index, statement in enumerate(pages_read):
        assert "LIMIT" in statement
        if target.backend != "sqlite":  # SQLAlchemy's SQLite dialect always adds OFFSET 0
            assert "OFFSET" not in statement
        # The next page starts after the last key: a row-value comparison, never OFFSET.
        plain = statement.replace("`", "").replace(f"{target.schema}.", "")
        assert ("(orders.customer_id, orders.line) >" in plain) == (index > 0), statement


def test_memory_stays_bounded_while_a_large_subject_is_streamed(
    target: Target, connector: SqlConnector
) -> None:
    many_orders(target, customers=1, lines=6000, note="x" * 150)
    node = contract_node(CHILD, ("customer_id", "line", "sku", "note"))

    def peak(read: object) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            read()  # type: ignore[operator]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def stream() -> None:
        count = 0
        for page in connector.retrieve_pages(node, {"customer_id": [1]}, 200):
            count += len(page)
        assert count == 6002

    connector.retrieve(node, {"customer_id": [1]})  # reflect and connect before measuring
    whole = peak(lambda: connector.retrieve(node, {"customer_id": [1]}))
    streamed = peak(stream)
    assert streamed * 5 < whole, (streamed, whole)


def test_abandoned_pages_give_their_connection_back(
    target: Target, connector: SqlConnector
) -> None:
    many_orders(target, customers=1, lines=20)
    pages = connector.retrieve_pages(contract_node(CHILD, ("line",)), {"customer_id": [1]}, 5)
    next(pages)
    assert connector.engine.pool.checkedout() == 0  # no connection held between pages
    pages.close()  # type: ignore[attr-defined]
    assert connector.engine.pool.checkedout() == 0


def test_a_table_dropped_between_pages_is_a_named_failure(
    target: Target, connector: SqlConnector
) -> None:
    many_orders(target, customers=1, lines=20)
    pages = connector.retrieve_pages(contract_node(CHILD, ("note",)), {"customer_id": [1]}, 5)
    next(pages)
    target.tables[CHILD].drop(target.admin)
    with pytest.raises(
        ConnectorFailure, match=r"contract:orders: table (t_\w+\.)?orders not found"
    ):
        next(pages)


def no_key_table(target: Target, name: str) -> sa.Table:
    """A table without a primary key, holding two identical rows and a NULL."""
    table = sa.Table(
        name,
        target.metadata(),
        sa.Column("email", sa.String(100)),
        sa.Column("phone", sa.String(100)),
        sa.Column("event", sa.String(100)),
    )
    target.create(table)
    rows = [
        {"email": f"u{i % 4}@example.com", "phone": f"+{i % 3}" if i % 5 else None, "event": "e"}
        for i in range(30)
    ]
    with target.admin.begin() as conn:
        conn.execute(table.insert(), rows)
    return table


def events_node(address: str, primary_key: tuple[str, ...] = ()) -> PlanNode:
    node = contract_node(PARENT, ("email", "phone", "event"))
    return PlanNode(**{**node.__dict__, "address": address, "primary_key": primary_key})


def test_a_table_without_a_primary_key_is_paged_by_lookup_chunk(
    target: Target, connector: SqlConnector
) -> None:
    table = no_key_table(target, "events")
    node = events_node("contract:events")
    statements = record_selects(connector, "events")
    emails = [f"u{i}@example.com" for i in range(4)] + [f"none{i}@example.com" for i in range(9)]
    lookups: dict[str, list[object]] = {"email": emails, "phone": ["+1", "+2"]}
    pages = list(connector.retrieve_pages(node, lookups, 4))  # type: ignore[arg-type]
    assert all(0 < len(page) <= 4 for page in pages)
    assert sum(map(len, pages)) == 30  # each row once, identical rows kept apart
    with target.admin.connect() as conn:
        everything = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
    key = lambda row: tuple(str(row[k]) for k in ("email", "phone", "event"))  # noqa: E731
    assert sorted(map(key, (r for p in pages for r in p))) == sorted(map(key, everything))
    assert statements
    assert not any("ORDER BY" in statement for statement, _ in statements)
    assert connector.engine.pool.checkedout() == 0


def test_a_primary_key_from_the_data_map_is_paged_by(
    target: Target, connector: SqlConnector
) -> None:
    table = sa.Table(
        "visits",
        target.metadata(),
        sa.Column("visit_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(100)),
    )
    target.create(table)
    with target.admin.begin() as conn:
        conn.execute(table.insert(), [{"visit_id": i, "email": "a@b.c"} for i in range(25, 0, -1)])
    node = PlanNode(
        **{
            **contract_node(PARENT, ("visit_id",)).__dict__,
            "address": "contract:visits",
            "primary_key": ("visit_id",),
        }
    )
    statements = record_selects(connector, "visits")
    pages = list(connector.retrieve_pages(node, {"email": ["a@b.c"]}, 10))
    assert [[r["visit_id"] for r in page] for page in pages] == [
        list(range(1, 11)),
        list(range(11, 21)),
        list(range(21, 26)),
    ]
    assert len(statements) == 3
    assert all("ORDER BY" in statement for statement, _ in statements)


def test_paging_rejects_a_page_size_below_one(connector: SqlConnector) -> None:
    with pytest.raises(ValueError, match="page_size"):
        connector.retrieve_pages(contract_node(PARENT, ("id",)), {"id": [1]}, 0)


def test_a_failure_while_paging_is_safe_to_log(target: Target, connector: SqlConnector) -> None:
    seeded(target)
    node = contract_node(PARENT, ("id", "shoe_size"))
    with pytest.raises(ConnectorFailure, match="shoe_size not found") as caught:
        next(connector.retrieve_pages(node, {"email": ["jane@example.com"]}, 5))
    assert caught.value.retryable is False
    assert_safe(caught.value, "jane@example.com")
