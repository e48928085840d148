"""Streamed retrieval for the `sql` connector: keyset pages over chunks of lookup values.

Lookup values are sent in chunks (at most `chunk_size` values per statement). Each chunk is
read in pages: `ORDER BY key LIMIT page_size`, the next page `WHERE (key...) > (:last...)`
(row-value comparison, never OFFSET), one short pooled checkout per page, so no transaction
stays open while the caller works on a page and nothing holds more than a page of rows.

Each row comes once:
- all lookup values fit in one chunk: one statement ORs the fields, nothing can repeat;
- one lookup field: chunks hold distinct values of one column, so they match distinct rows;
- several fields over several chunks: a chunk of field N excludes in SQL the rows matched by
  fields 1..N-1 (`col NOT IN (...) OR col IS NULL`), the fields sorted smallest first, when the
  excluded values take at most half a statement's budget; otherwise the keys of rows already
  returned are kept in a set (keys only, and only in this rare case).

A table without any key (none in the table, none in the data map) is paged by lookup chunk
only: one statement per chunk, its rows streamed with `yield_per` (a server-side cursor where
the driver has one), its connection held while the chunk's pages are consumed, and several
fields always excluded in SQL.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.domain.connector import Row
from rightsflow.domain.errors import ConnectorFailure

T = TypeVar("T")


@dataclass(frozen=True)
class Lookup:
    """Values (distinct, non-null, in the column's type) to look for in one column."""

    column: sa.Column[Any]
    values: list[Any]


@dataclass(frozen=True)
class Chunk:
    """One statement's lookup condition; `dedupe`: its rows may repeat earlier chunks'."""

    condition: sa.ColumnElement[bool]
    dedupe: bool = False


def chunks(lookups: Sequence[Lookup], size: int, *, keyed: bool) -> Iterator[Chunk]:
    """Conditions matching every row any lookup matches, at most `size` values each."""
    total = sum(len(lookup.values) for lookup in lookups)
    if total <= size:
        yield Chunk(sa.or_(*(lookup.column.in_(lookup.values) for lookup in lookups)))
        return
    if len(lookups) == 1:
        for part in batched(lookups[0].values, size):
            yield Chunk(lookups[0].column.in_(part))
        return
    ordered = sorted(lookups, key=lambda lookup: len(lookup.values))
    excluded = total - len(ordered[-1].values)
    if keyed and excluded > size // 2:
        for lookup in ordered:
            for part in batched(lookup.values, size):
                yield Chunk(lookup.column.in_(part), dedupe=True)
        return
    budget = max(1, size - excluded)
    for index, lookup in enumerate(ordered):
        earlier = [
            sa.or_(prior.column.is_(None), prior.column.not_in(prior.values))
            for prior in ordered[:index]
        ]
        for part in batched(lookup.values, budget):
            yield Chunk(sa.and_(lookup.column.in_(part), *earlier))


@dataclass(frozen=True)
class PageReader:
    """Reads the rows of one table matching a chunk, `page_size` at a time."""

    engine: Engine
    address: str
    selected: Sequence[sa.Column[Any]]
    order: Sequence[sa.Column[Any]]  # the key to page by; empty: stream the chunk
    page_size: int

    def pages(self, condition: sa.ColumnElement[bool]) -> Iterator[Sequence[sa.RowMapping]]:
        if not self.order:
            yield from self._stream(condition)
            return
        query = sa.select(*self.selected).where(condition).order_by(*self.order)
        after: sa.ColumnElement[bool] | None = None
        while True:
            statement = query if after is None else query.where(after)
            with self.engine.connect() as conn:
                rows = conn.execute(statement.limit(self.page_size)).mappings().all()
            if rows:
                yield rows
            if len(rows) < self.page_size:
                return
            after = self._after(rows[-1])

    def key(self, row: sa.RowMapping) -> tuple[Any, ...]:
        return tuple(row[column.name] for column in self.order)

    def _after(self, row: sa.RowMapping) -> sa.ColumnElement[bool]:
        last = self.key(row)
        if any(value is None for value in last):
            names = ", ".join(column.name for column in self.order)
            raise ConnectorFailure(
                f"{self.address}: key field(s) {names} hold NULL; cannot page by them",
                retryable=False,
            )
        if len(self.order) == 1:
            after: sa.ColumnElement[bool] = self.order[0] > last[0]
            return after
        values = [sa.literal(v, column.type) for column, v in zip(self.order, last, strict=True)]
        return sa.tuple_(*self.order) > sa.tuple_(*values)

    def _stream(self, condition: sa.ColumnElement[bool]) -> Iterator[Sequence[sa.RowMapping]]:
        statement = sa.select(*self.selected).where(condition)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=self.page_size).execute(statement)
            yield from result.mappings().partitions()


def project(rows: Iterable[sa.RowMapping], fields: Sequence[str]) -> list[Row]:
    return [{name: row[name] for name in fields} for row in rows]


def repage(pages: Iterable[list[Row]], size: int) -> Generator[list[Row]]:
    """The same rows in pages of exactly `size` (the last one may be shorter), none empty."""
    buffer: list[Row] = []
    for page in pages:
        buffer.extend(page)
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
