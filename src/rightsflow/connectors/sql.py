"""The `sql` connector: relational databases through SQLAlchemy Core (PostgreSQL, SQLite,
MySQL/MariaDB).

Set-based throughout: lookups and keys are deduplicated and sent in chunks of `chunk_size`
values, one Engine (and pool) per connector, never a connection per row. Retrieval streams
keyset pages (`sql_pages`). Values that come back from JSON are converted to their column's
type before they are bound (`sql_values`). Erasure is guarded
(`... AND NOT (col IS NOT DISTINCT FROM :value ...)`, `<=>` on MySQL), so a retried mask
changes nothing twice and the counts it returns are rows that really changed.

Failures become `ConnectorFailure` with the collection, the error class and a database error
code only (`sql_errors`): never SQL text or parameter values, which may hold personal data.
The original exception is not chained, so a logged traceback cannot leak it either.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url

from rightsflow.connectors import sql_sweep
from rightsflow.connectors.base import ConnectorSpec, Row, RowChange, Scalar, check_page_size
from rightsflow.connectors.sql_errors import Classified, classify
from rightsflow.connectors.sql_pages import (
    Chunk,
    Lookup,
    PageReader,
    batched,
    chunks,
    project,
    repage,
)
from rightsflow.connectors.sql_tables import (
    columns,
    key_condition,
    key_tuples,
    paging_key,
    primary_key,
    reflect,
)
from rightsflow.connectors.sql_values import (
    KeyTuple,
    bindable,
    coerce_keys,
    coerce_lookups,
    coerce_values,
    holds,
)
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode

T = TypeVar("T")
# `retrieve` reads through `retrieve_pages` in pages this large.
RETRIEVE_PAGE_SIZE = 5000
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


class SqlConfig(BaseModel):
    """Configuration of one `sql` system. `url` may hold a password: it is never echoed."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )

    url: str = Field(min_length=1, repr=False)
    # "schema" would shadow a BaseModel attribute; the config key is still `schema`.
    db_schema: str | None = Field(default=None, alias="schema")
    chunk_size: int = Field(default=1000, ge=1, le=30_000)
    pool_size: int = Field(default=5, ge=1, le=100)
    connect_timeout: float = Field(default=10, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _parseable(cls, value: str) -> str:
        try:
            make_url(value)
        except (sa_exc.ArgumentError, ValueError):
            raise ValueError(
                "not a valid database URL (e.g. postgresql://user@host/db or sqlite:///path)"
            ) from None
        return value

    def engine_url(self) -> URL:
        """The URL to connect with: a bare `postgresql://` uses psycopg 3, a bare `mysql://`
        or `mariadb://` uses pymysql."""
        url = make_url(self.url)
        return url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))


class SqlConnector:
    """One configured database. Thread-safe; the Engine and reflected tables are shared."""

    def __init__(self, config: SqlConfig, *, label: str = "sql connector") -> None:
        self._config = config
        self._label = label
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._tables: dict[str, sa.Table] = {}

    @property
    def engine(self) -> Engine:
        """The connector's one Engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = self._call(self._label, lambda: _create_engine(self._config))
            return self._engine

    # -- the Connector protocol -------------------------------------------------------------

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        pages = self.retrieve_pages(node, lookups, RETRIEVE_PAGE_SIZE)
        return [row for page in pages for row in page]

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        check_page_size(page_size)
        wanted = _lookup_values(node, lookups)
        if not wanted:
            return iter(())
        return self._guarded(node, repage(self._pages(node, wanted, page_size), page_size))

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        if not keys:
            return []
        return self._call(node.address, lambda: self._fetch_by_keys(node, keys), node)

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        if not changes:
            return 0
        return self._call(node.address, lambda: self._mask(node, changes), node)

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        if not keys:
            return 0
        return self._call(node.address, lambda: self._delete(node, keys), node)

    def check(self) -> None:
        def ping() -> None:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        self._call(self._label, ping)

    def close(self) -> None:
        """Release the pool; the connector reconnects if used again."""
        with self._lock:
            engine, self._engine = self._engine, None
            self._tables.clear()
        if engine is not None:
            engine.dispose()

    # -- retention sweeps (AgedRows: connectors/sql_sweep.py) ---------------------------------

    def count_aged(self, node: PlanNode, age_field: str, cutoff: datetime) -> int:
        return self._call(node.address, lambda: self._aged(node, age_field, cutoff).count(), node)

    def aged_rows(
        self,
        node: PlanNode,
        age_field: str,
        cutoff: datetime,
        after: Sequence[Scalar] | None,
        limit: int,
    ) -> list[Row]:
        def chunk() -> list[Row]:
            return self._aged(node, age_field, cutoff).chunk(after, limit)

        return self._call(node.address, chunk, node)

    def _aged(self, node: PlanNode, age_field: str, cutoff: datetime) -> sql_sweep.AgedQuery:
        return sql_sweep.AgedQuery(self.engine, self._table(node), node, age_field, cutoff)

    # -- the work -----------------------------------------------------------------------------

    def _pages(
        self, node: PlanNode, wanted: dict[str, list[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        table = self._table(node)
        searched = [
            Lookup(column, coerce_lookups(column, wanted[column.name]))
            for column in columns(table, node, wanted)
        ]
        searched = [lookup for lookup in searched if lookup.values]
        if not searched:  # no value can have its column's type: nothing can match
            return
        order = paging_key(table, node)
        fields = list(node.fetch_fields)
        selected = columns(table, node, [*fields, *(column.name for column in order)])
        reader = PageReader(self.engine, node.address, selected, order, page_size)
        seen: set[tuple[Any, ...]] = set()
        for chunk in chunks(searched, self._config.chunk_size, keyed=bool(order)):
            for rows in reader.pages(chunk.condition):
                yield project(_unseen(reader, chunk, rows, seen), fields)

    def _fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        table = self._table(node)
        key_names = primary_key(table, node)
        key_columns = columns(table, node, key_names)
        fields = list(node.fetch_fields)
        selected = columns(table, node, fields)
        tuples = coerce_keys(node.address, key_columns, key_tuples(node, key_names, keys))
        found: list[Row] = []
        with self.engine.connect() as conn:
            # Keys are distinct, so each row is in one chunk only: nothing to deduplicate.
            for chunk in batched(tuples, self._key_chunk(key_names)):
                statement = sa.select(*selected).where(key_condition(key_columns, chunk))
                found.extend(project(conn.execute(statement).mappings(), fields))
        return found

    def _mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        return self._write(self._mask_statements(node, changes))

    def _mask_statements(self, node: PlanNode, changes: Sequence[RowChange]) -> list[sa.Update]:
        table = self._table(node)
        key_names = primary_key(table, node)
        key_columns = columns(table, node, key_names)
        groups = _group_changes(node, table, key_columns, changes)
        dialect = self.engine.dialect.name
        return [
            sa.update(table)
            .where(
                key_condition(key_columns, chunk),
                # Rows already holding every value are left alone: exactly-once under retries.
                sa.not_(sa.and_(*(holds(table.c[n], v, dialect) for n, v in values.items()))),
            )
            .values({name: bindable(table.c[name], value) for name, value in values.items()})
            for values, keys in groups
            for chunk in batched(keys, self._key_chunk(key_names))
        ]

    def _delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        return self._write(self._delete_statements(node, keys))

    def _delete_statements(
        self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]
    ) -> list[sa.Delete]:
        table = self._table(node)
        key_names = primary_key(table, node)
        key_columns = columns(table, node, key_names)
        tuples = coerce_keys(node.address, key_columns, key_tuples(node, key_names, keys))
        chunked = batched(tuples, self._key_chunk(key_names))
        return [sa.delete(table).where(key_condition(key_columns, c)) for c in chunked]

    # -- writes that say which rows they changed (KeyedWrites, for coalesced requests) ----------

    def writes_return_keys(self) -> bool:
        dialect = self.engine.dialect
        return bool(dialect.delete_returning and dialect.update_returning)

    def delete_returning(
        self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]
    ) -> list[KeyTuple]:
        if not keys:
            return []
        return self._call(
            node.address,
            lambda: self._write_returning(node, self._delete_statements(node, keys)),
            node,
        )

    def mask_returning(self, node: PlanNode, changes: Sequence[RowChange]) -> list[KeyTuple]:
        if not changes:
            return []
        return self._call(
            node.address,
            lambda: self._write_returning(node, self._mask_statements(node, changes)),
            node,
        )

    def _write_returning(
        self, node: PlanNode, statements: Sequence[sa.Update | sa.Delete]
    ) -> list[KeyTuple]:
        """Run the statements in one transaction; the keys of the rows they changed."""
        table = self._table(node)
        key_columns = columns(table, node, primary_key(table, node))
        changed: list[KeyTuple] = []
        with self.engine.begin() as conn:
            for statement in statements:
                result = conn.execute(statement.returning(*key_columns))
                changed.extend(tuple(row) for row in result)
        return changed

    def _write(self, statements: Iterable[sa.Update | sa.Delete]) -> int:
        """Run the statements in one transaction; the number of rows they changed."""
        total = 0
        with self.engine.begin() as conn:
            for statement in statements:
                total += conn.execute(statement).rowcount
        return total

    def _table(self, node: PlanNode) -> sa.Table:
        name = node.collection
        with self._lock:
            cached = self._tables.get(name)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            table = reflect(conn, name, self._config.db_schema)
        with self._lock:
            return self._tables.setdefault(name, table)

    def _key_chunk(self, key_names: Sequence[str]) -> int:
        return max(1, self._config.chunk_size // max(1, len(key_names)))

    # -- failures -----------------------------------------------------------------------------

    def _call(self, where: str, work: Callable[[], T], node: PlanNode | None = None) -> T:
        """Run `work`, turning SQLAlchemy errors into a `ConnectorFailure` that is safe to log."""
        try:
            return work()
        except ConnectorFailure:
            raise
        except sa_exc.SQLAlchemyError as exc:
            classified = classify(exc)
        # Raised outside the handler on purpose: no __context__ holding SQL and parameters.
        raise self._failure(where, classified, node)

    def _guarded(self, node: PlanNode, pages: Generator[list[Row]]) -> Iterator[list[Row]]:
        """`pages`, with each step run through `_call`; closing this closes `pages`."""
        try:
            while (page := self._call(node.address, lambda: next(pages, None), node)) is not None:
                yield page
        finally:
            pages.close()

    def _failure(
        self, where: str, classified: Classified, node: PlanNode | None
    ) -> ConnectorFailure:
        """The failure to raise; a table or column gone since reflection is named, and the
        stale reflection dropped so that the connector sees the schema as it is now."""
        if node is None or classified.missing is None:
            return ConnectorFailure(f"{where}: {classified.text}", retryable=classified.retryable)
        with self._lock:
            stale = self._tables.pop(node.collection, None)
        gone = self._vanished_columns(node, stale) if classified.missing == "column" else []
        if gone:
            table = stale.name if stale is not None else node.collection
            return ConnectorFailure(
                f"{where}: column(s) {', '.join(gone)} not found in table {table}",
                retryable=False,
            )
        if classified.missing == "table" and not classified.named:
            table = ".".join(filter(None, [self._config.db_schema, node.collection]))
            detail = f" ({classified.detail})" if classified.detail else ""
            return ConnectorFailure(f"{where}: table {table} not found{detail}", retryable=False)
        return ConnectorFailure(f"{where}: {classified.text}", retryable=False)

    def _vanished_columns(self, node: PlanNode, stale: sa.Table | None) -> list[str]:
        """Columns the stale reflection had and the table has no more (by name only)."""
        if stale is None:
            return []
        try:
            fresh = self._table(node)
        except sa_exc.SQLAlchemyError:
            return []
        return [column.name for column in stale.c if column.name not in fresh.c]


def _create_engine(config: SqlConfig) -> Engine:
    url = config.engine_url()
    if url.get_backend_name() == "sqlite":
        # sqlite3's `timeout` is SQLite's busy timeout: wait for a writer (WAL or not) rather
        # than fail at once. The journal mode is the system owner's choice and is left alone.
        engine = sa.create_engine(
            _existing_sqlite_file(url),
            pool_size=config.pool_size,
            connect_args={"timeout": config.connect_timeout},
        )
        sa.event.listen(engine, "connect", _enforce_foreign_keys)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, math.ceil(config.connect_timeout))
    elif url.get_backend_name() in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = config.connect_timeout
    return sa.create_engine(
        url,
        pool_size=config.pool_size,
        max_overflow=config.pool_size,
        pool_timeout=config.connect_timeout,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _existing_sqlite_file(url: URL) -> URL:
    """Open a SQLite file read-write without creating it: a mistyped path must be an
    unreachable system, not an empty database in which every subject has no data."""
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:") or "mode" in url.query:
        return url
    return url.set(database=f"file:{path}", query={**url.query, "mode": "rw", "uri": "true"})


def _enforce_foreign_keys(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


# -- statement helpers ---------------------------------------------------------------------------


def _lookup_values(
    node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]
) -> dict[str, list[Scalar]]:
    """Lookup values per field, deduplicated, NULLs dropped (NULL never matches `IN`)."""
    wanted: dict[str, list[Scalar]] = {}
    for name, values in lookups.items():
        if "." in name:
            raise ConnectorFailure(
                f"{node.address}: nested lookups are not supported by the sql connector yet",
                retryable=False,
            )
        unique: list[Scalar] = [value for value in dict.fromkeys(values) if value is not None]
        if unique:
            wanted[name] = unique
    return wanted


def _unseen(
    reader: PageReader, chunk: Chunk, rows: Sequence[sa.RowMapping], seen: set[tuple[Any, ...]]
) -> Sequence[sa.RowMapping]:
    """Rows not returned by an earlier chunk (only chunks that may repeat rows are checked)."""
    if not chunk.dedupe:
        return rows
    fresh = []
    for row in rows:
        key = reader.key(row)
        if key not in seen:
            seen.add(key)
            fresh.append(row)
    return fresh


def _group_changes(
    node: PlanNode,
    table: sa.Table,
    key_columns: Sequence[sa.Column[Any]],
    changes: Iterable[RowChange],
) -> list[tuple[dict[str, Any], list[KeyTuple]]]:
    """Changes with equal `values` (in their columns' types), grouped: one UPDATE (per
    chunk) for each group; all values and keys are checked before anything is written."""
    key_names = [column.name for column in key_columns]
    groups: dict[object, tuple[dict[str, Any], list[KeyTuple]]] = {}
    for change in changes:
        if not change.values:
            continue
        columns(table, node, change.values)
        values = coerce_values(node.address, table, change.values)
        signature = tuple(sorted((name, _freeze(value)) for name, value in values.items()))
        _, keys = groups.setdefault(signature, (values, []))
        keys.extend(key_tuples(node, key_names, [change.key]))
    return [
        (values, coerce_keys(node.address, key_columns, keys)) for values, keys in groups.values()
    ]


def _freeze(value: Any) -> object:
    try:
        hash(value)
    except TypeError:
        return (type(value).__name__, repr(value))
    return (type(value).__name__, value)


def _create(config: SqlConfig) -> SqlConnector:
    return SqlConnector(config)


SQL_CONNECTOR: ConnectorSpec[SqlConfig] = ConnectorSpec(
    kind="sql",
    config_model=SqlConfig,
    factory=_create,
    capabilities=frozenset({"retrieve", "mask", "delete"}),
    description="Relational databases through SQLAlchemy Core (PostgreSQL, SQLite, MySQL, ...)",
)
