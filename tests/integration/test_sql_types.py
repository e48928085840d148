"""Values that come back from the platform's JSON (ISO dates, decimal strings, base64, JSON
text) are written, guarded and matched in their column's type on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from rightsflow.connectors.base import Row, RowChange
from rightsflow.connectors.sql import SqlConnector
from rightsflow.connectors.testing import PARENT, contract_node
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode
from rightsflow.services.rows import to_json
from tests.support.sql_targets import Target, assert_safe


def ts(text: str) -> datetime:
    """A naive timestamp, as a TIMESTAMP WITHOUT TIME ZONE column holds it."""
    return datetime.fromisoformat(text)


FIELDS = ("born", "seq", "email", "seen_at", "balance", "big", "prefs", "avatar")
KEY = ("born", "seq")
ROWS = [
    {
        "born": date(2001, 2, 3),
        "seq": 1,
        "email": "jane@example.com",
        "seen_at": ts("2024-05-06T07:08:09"),
        "balance": Decimal("19.95"),
        "big": 9_007_199_254_740_993,  # beyond a double's exact integers
        "prefs": {"newsletter": True, "tags": ["a", "b"]},
        "avatar": b"\x00\xffpng",
    },
    {
        "born": date(2001, 2, 3),
        "seq": 2,
        "email": "jane@example.com",
        "seen_at": None,
        "balance": Decimal("20.00"),
        "big": -1,
        "prefs": None,
        "avatar": None,
    },
    {
        "born": date(1999, 12, 31),
        "seq": 1,
        "email": "john@example.com",
        "seen_at": ts("2020-01-01T00:00:00"),
        "balance": None,
        "big": 0,
        "prefs": [1, 2],
        "avatar": b"",
    },
]


@pytest.fixture
def target(sql_target: Target) -> Target:
    table = sa.Table(
        "profiles",
        sql_target.metadata(),
        sa.Column("born", sa.Date, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(100)),
        sa.Column("seen_at", sa.TIMESTAMP, nullable=True),
        sa.Column("balance", sa.Numeric(12, 2)),
        sa.Column("big", sa.BigInteger),
        sa.Column("prefs", sa.JSON),
        sa.Column("avatar", sa.LargeBinary),
    )
    sql_target.create(table)
    with sql_target.admin.begin() as conn:
        conn.execute(table.insert(), ROWS)
    sql_target.tables["contract:profiles"] = table
    return sql_target


@pytest.fixture
def connector(target: Target) -> Iterator[SqlConnector]:
    connector = target.connector()
    yield connector
    connector.close()


def node(action: str = "return") -> PlanNode:
    base = contract_node(PARENT, FIELDS, action)
    return PlanNode(**{**base.__dict__, "address": "contract:profiles", "primary_key": KEY})


def through_json(value: Any) -> Any:
    """What the platform hands back after storing `value` (services.rows)."""
    return json.loads(to_json(value))


def stored(target: Target) -> list[Row]:
    rows = target.read_all("contract:profiles")
    return sorted(rows, key=lambda row: (row["born"], row["seq"]))


def test_rows_read_back_in_their_types(connector: SqlConnector) -> None:
    rows = connector.retrieve(node(), {"email": ["jane@example.com", "john@example.com"]})
    by_key = {(row["born"], row["seq"]): row for row in rows}
    assert by_key == {(row["born"], row["seq"]): row for row in ROWS}
    assert isinstance(by_key[date(2001, 2, 3), 1]["prefs"], dict)  # JSON, also on MariaDB


def test_lookups_and_keys_from_json_match(connector: SqlConnector) -> None:
    assert len(connector.retrieve(node(), {"born": ["2001-02-03", "not a date"]})) == 2
    keys = through_json([{"born": row["born"], "seq": row["seq"]} for row in ROWS])
    assert keys[0] == {"born": "2001-02-03", "seq": 1}
    found = connector.fetch_by_keys(node(), keys)
    assert sorted((row["born"], row["seq"]) for row in found) == sorted(
        (row["born"], row["seq"]) for row in ROWS
    )


def test_values_equal_to_the_stored_ones_change_nothing(
    target: Target, connector: SqlConnector
) -> None:
    before = stored(target)
    rows = through_json(connector.retrieve(node(), {"email": ["jane@example.com"]}))
    changes = [
        RowChange(
            {name: row[name] for name in KEY},
            {name: value for name, value in row.items() if name not in KEY},
        )
        for row in rows
    ]
    assert changes[0].values["balance"] in ("19.95", "20")  # strings now, as stored
    assert connector.mask(node("mask"), changes) == 0  # the guard compares in column types
    assert stored(target) == before


def test_masked_values_from_json_are_written_in_their_types(
    target: Target, connector: SqlConnector
) -> None:
    key = through_json({"born": date(2001, 2, 3), "seq": 1})
    values = through_json(
        {
            "seen_at": ts("2000-01-01T00:00:01"),
            "balance": Decimal("0.10"),
            "big": 2**62,
            "prefs": {"newsletter": False},
            "avatar": b"\x01\x02",
            "email": None,
        }
    )
    assert values["seen_at"] == "2000-01-01T00:00:01"
    assert connector.mask(node("mask"), [RowChange(key, values)]) == 1
    assert connector.mask(node("mask"), [RowChange(key, values)]) == 0
    row = stored(target)[1]
    assert row["seen_at"] == ts("2000-01-01T00:00:01")
    assert row["balance"] == Decimal("0.10")
    assert row["big"] == 2**62
    assert row["avatar"] == b"\x01\x02"
    assert row["email"] is None
    assert connector.fetch_by_keys(node(), [key])[0]["prefs"] == {"newsletter": False}


def test_json_text_and_null_in_a_json_column(target: Target, connector: SqlConnector) -> None:
    key = {"born": "1999-12-31", "seq": 1}
    text = RowChange(key, {"prefs": '{"tags": ["x"]}'})
    assert connector.mask(node("mask"), [text]) == 1
    assert connector.mask(node("mask"), [RowChange(key, {"prefs": {"tags": ["x"]}})]) == 0
    assert connector.mask(node("mask"), [RowChange(key, {"prefs": None})]) == 1
    assert connector.mask(node("mask"), [RowChange(key, {"prefs": None})]) == 0
    # The fixture's other None went in as JSON `null`: it reads as None, so it is left alone.
    other = {"born": "2001-02-03", "seq": 2}
    assert connector.mask(node("mask"), [RowChange(other, {"prefs": None})]) == 0
    with target.admin.connect() as conn:
        table = target.tables["contract:profiles"]
        nulls = conn.execute(sa.select(table.c.seq).where(table.c.prefs.is_(None))).all()
    assert [tuple(row) for row in nulls] == [(1,)]  # written as SQL NULL, not JSON `null`


def test_a_composite_key_with_a_date_deletes_by_its_iso_form(
    target: Target, connector: SqlConnector
) -> None:
    keys = [{"born": "2001-02-03", "seq": 2}, {"born": "2001-02-03", "seq": 9}]
    assert connector.delete(node("delete"), keys) == 1
    assert connector.delete(node("delete"), keys) == 0
    assert [(row["born"], row["seq"]) for row in stored(target)] == [
        (date(1999, 12, 31), 1),
        (date(2001, 2, 3), 1),
    ]


@pytest.mark.parametrize(
    ("column", "bad"),
    [("balance", "jane's balance"), ("seen_at", "jane-2024"), ("big", "12.5x"), ("avatar", "!!")],
)
def test_a_value_that_cannot_be_converted_names_the_column(
    target: Target, connector: SqlConnector, column: str, bad: str
) -> None:
    before = stored(target)
    changes = [
        RowChange({"born": "1999-12-31", "seq": 1}, {"email": "x@example.com"}),
        RowChange({"born": "2001-02-03", "seq": 1}, {column: bad}),
    ]
    with pytest.raises(ConnectorFailure, match=rf"column {column} cannot be converted") as caught:
        connector.mask(node("mask"), changes)
    assert caught.value.retryable is False
    assert_safe(caught.value, bad)
    assert stored(target) == before  # nothing written


def test_a_key_that_cannot_be_converted_names_the_column(connector: SqlConnector) -> None:
    for call in (connector.fetch_by_keys, connector.delete):
        with pytest.raises(ConnectorFailure, match="column born cannot be converted") as caught:
            call(node("delete"), [{"born": "3 Feb 2001", "seq": 1}])
        assert caught.value.retryable is False
        assert_safe(caught.value, "3 Feb 2001")
