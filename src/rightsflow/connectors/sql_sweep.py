"""Retention sweeps for the `sql` connector: rows whose age field is older than a cutoff.

Chunks are keyset pages on the primary key (`WHERE age < :cutoff AND key > :last ORDER BY key
LIMIT n`, a row-value comparison for composite keys), never OFFSET: each chunk costs the same
however deep into the table it is, and a run resumes from its last key.

The cutoff is bound in the column's type: a DATE/TIMESTAMP column gets a datetime (a naive
UTC one where the column has no time zone), a text column ISO-8601 UTC text (SQLite keeps
timestamps as text: they compare correctly when written as ISO-8601 UTC). Any other column
type is refused by name: it cannot hold an age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.connectors.sql_pages import project
from rightsflow.connectors.sql_tables import columns, primary_key
from rightsflow.domain.connector import Row, Scalar
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode


def older_than(node: PlanNode, column: sa.Column[Any], cutoff: datetime) -> sa.ColumnElement[bool]:
    """`column < cutoff`, with the cutoff in the column's own type."""
    kind = column.type
    cutoff = cutoff.astimezone(UTC)
    if isinstance(kind, sa.DateTime):
        bound: object = cutoff if kind.timezone else cutoff.replace(tzinfo=None)
    elif isinstance(kind, sa.Date):
        bound = cutoff.date()
    elif isinstance(kind, sa.String):
        bound = cutoff.isoformat()
    else:
        raise ConnectorFailure(
            f"{node.address}: column {column.name} is {kind}, not a date or timestamp",
            retryable=False,
        )
    return column < sa.literal(bound, kind)


@dataclass(frozen=True)
class AgedQuery:
    """The aged rows of one table: counted, or read a chunk at a time."""

    engine: Engine
    table: sa.Table
    node: PlanNode
    age_field: str
    cutoff: datetime

    def _condition(self) -> sa.ColumnElement[bool]:
        [column] = columns(self.table, self.node, [self.age_field])
        return older_than(self.node, column, self.cutoff)

    def count(self) -> int:
        statement = sa.select(sa.func.count()).select_from(self.table).where(self._condition())
        with self.engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())

    def chunk(self, after: Sequence[Scalar] | None, limit: int) -> list[Row]:
        """At most `limit` aged rows after the key `after`, in key order."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        table, node = self.table, self.node
        keys = columns(table, node, primary_key(table, node))
        fields = list(dict.fromkeys([*node.fetch_fields, *(k.name for k in keys)]))
        selected = columns(table, node, fields)
        statement = sa.select(*selected).where(self._condition()).order_by(*keys)
        if after is not None:
            statement = statement.where(_after(keys, after))
        with self.engine.connect() as conn:
            return project(conn.execute(statement.limit(limit)).mappings(), fields)


def _after(keys: Sequence[sa.Column[Any]], last: Sequence[Scalar]) -> sa.ColumnElement[bool]:
    if len(keys) != len(last):
        raise ValueError("the resume key has the wrong number of values")
    if len(keys) == 1:
        after: sa.ColumnElement[bool] = keys[0] > sa.literal(last[0], keys[0].type)
        return after
    values = [sa.literal(v, k.type) for k, v in zip(keys, last, strict=True)]
    return sa.tuple_(*keys) > sa.tuple_(*values)
