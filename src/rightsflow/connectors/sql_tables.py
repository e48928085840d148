"""Tables of the `sql` connector: reflection, the columns a node names, its keys.

Identifiers come from the validated data map; a name the table lacks is a failure naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rightsflow.connectors.base import key_tuples as base_key_tuples
from rightsflow.connectors.sql_values import KeyTuple
from rightsflow.domain.connector import Scalar
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode

_MARIADB_CHECKS = sa.text(
    "SELECT check_clause FROM information_schema.check_constraints"
    " WHERE constraint_schema = COALESCE(:schema, DATABASE()) AND table_name = :name"
)
_JSON_CHECK = re.compile(r"json_valid\(`(?P<name>[^`]+)`\)", re.IGNORECASE)


def reflect(conn: Connection, name: str, schema: str | None) -> sa.Table:
    """The table as the database has it. MariaDB's JSON is LONGTEXT with a `json_valid`
    check: such columns are reflected as JSON, so they read and write as on other backends."""
    json_columns: set[str] = set()
    if getattr(conn.dialect, "is_mariadb", False):  # SQLAlchemy skips column-level checks
        for clause in conn.execute(_MARIADB_CHECKS, {"schema": schema, "name": name}).scalars():
            match = _JSON_CHECK.fullmatch(str(clause).strip())
            if match:
                json_columns.add(match["name"])

    def as_json(_inspector: object, _table: sa.Table, column: dict[str, Any]) -> None:
        if column["name"] in json_columns:
            column["type"] = sa.JSON()

    return sa.Table(
        name,
        sa.MetaData(schema=schema),
        autoload_with=conn,
        resolve_fks=False,
        listeners=[("column_reflect", as_json)],
    )


def columns(table: sa.Table, node: PlanNode, names: Iterable[str]) -> list[sa.Column[Any]]:
    unique = list(dict.fromkeys(names))
    missing = [name for name in unique if name not in table.c]
    if missing:
        raise ConnectorFailure(
            f"{node.address}: column(s) {', '.join(missing)} not found in table {table.name}",
            retryable=False,
        )
    return [table.c[name] for name in unique]


def primary_key(table: sa.Table, node: PlanNode, *, required: bool = True) -> tuple[str, ...]:
    """The data map's primary key, else the table's; required for key-based operations."""
    names = node.primary_key or tuple(column.name for column in table.primary_key.columns)
    if required and not names:
        raise ConnectorFailure(
            f"{node.address}: no primary key in the data map or the table", retryable=False
        )
    return names


def paging_key(table: sa.Table, node: PlanNode) -> list[sa.Column[Any]]:
    """The table's own primary key (unique and never NULL), else the data map's, else none."""
    if len(table.primary_key.columns):
        return list(table.primary_key.columns)
    return columns(table, node, node.primary_key)


def key_tuples(
    node: PlanNode, key_names: Sequence[str], keys: Iterable[Mapping[str, Scalar]]
) -> list[KeyTuple]:
    return base_key_tuples(node, keys, key_names)


def key_condition(
    key_columns: Sequence[sa.Column[Any]], chunk: Sequence[KeyTuple]
) -> sa.ColumnElement[bool]:
    if len(key_columns) == 1:
        return key_columns[0].in_([key[0] for key in chunk])
    return sa.tuple_(*key_columns).in_(list(chunk))
