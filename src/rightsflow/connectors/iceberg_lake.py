"""The `iceberg` connector: Apache Iceberg tables in a SQL catalog, through PyIceberg.

Lookups become an Iceberg row filter (`field IN values`, OR-ed over fields), so PyIceberg prunes
partitions, manifests and files by their statistics; matching rows are read one data file at a
time, so a large result streams in bounded memory. Erasure is a row-level copy-on-write commit
(`delete`, or `overwrite` with the masked rows), after which `iceberg_maintenance` expires the
older snapshots and deletes the files only they used, so the erased values do not survive in
table history. The write returns a `WriteOutcome` whose evidence names the data files that held
the rows, the files written and removed, and the snapshots expired (ids and paths relative to the
warehouse, never values).

Failures become `ConnectorFailure` naming the collection and the error class only, never a
value, a catalog URI, or a message from PyIceberg (which may quote either).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchTableError,
    ValidationException,
)
from pyiceberg.table import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from rightsflow.connectors import iceberg_rows as rows_of
from rightsflow.connectors.base import (
    ConnectorSpec,
    Row,
    RowChange,
    Scalar,
    check_page_size,
    in_pages,
    matchable,
    required_key_tuples,
)
from rightsflow.connectors.iceberg_maintenance import (
    Retention,
    live_data_files,
    normal_location,
    purge_history,
)
from rightsflow.domain.connector import WriteOutcome
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode

T = TypeVar("T")
RETRIEVE_PAGE_SIZE = 5000
_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# A missing file is not among them: the likeliest cause is a concurrent purge that expired
# the snapshot a read had started from, and reading again sees the new one.
_PERMANENT_OS_ERRORS = (PermissionError, IsADirectoryError, NotADirectoryError)
_PERMANENT = (ValueError, TypeError, KeyError, LookupError, pa.ArrowException, ValidationException)


class IcebergConfig(BaseModel):
    """Configuration of one `iceberg` system: a SQL catalog (its SQLAlchemy URI, or the name of
    the environment variable holding it; never echoed), the local warehouse directory, the
    namespace, and how much history an erase leaves."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    catalog_name: str = Field(default="rightsflow", pattern=_NAME)
    catalog_uri: str | None = Field(default=None, min_length=1, repr=False)
    catalog_uri_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    warehouse: str = Field(min_length=1)
    namespace: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
    # Collection name -> table name in the namespace (default: the collection's name).
    tables: dict[str, str] = Field(default_factory=dict)
    # Snapshots of the main branch kept after an erase (1: only the erase's own result).
    retain_last: int = Field(default=1, ge=1, le=10_000)
    remove_orphan_files: bool = True
    # Files younger than this may belong to a writer that has not committed yet.
    orphan_min_age_seconds: int = Field(default=3600, ge=0)

    @field_validator("catalog_uri")
    @classmethod
    def _parseable(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_uri(value)
        return value

    @field_validator("tables")
    @classmethod
    def _table_names(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not _valid_name(name) for name in value.values()):
            raise ValueError("table names are letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _one_uri(self) -> IcebergConfig:
        if (self.catalog_uri is None) == (self.catalog_uri_env is None):
            raise ValueError("give exactly one of catalog_uri and catalog_uri_env")
        return self

    def retention(self) -> Retention:
        return Retention(self.retain_last, self.remove_orphan_files, self.orphan_min_age_seconds)


class IcebergLakeConnector:
    """One catalog namespace. Thread-safe; writes are serialised within the connector."""

    def __init__(self, config: IcebergConfig) -> None:
        self._config = config
        self._warehouse = Path(config.warehouse).resolve()
        self._namespace = tuple(config.namespace.split("."))
        self._lock = threading.Lock()  # one write (and its purge) at a time
        self._catalog_lock = threading.Lock()
        self._catalog: SqlCatalog | None = None

    # -- the Connector protocol -------------------------------------------------------------

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        pages = self.retrieve_pages(node, lookups, RETRIEVE_PAGE_SIZE)
        return [row for page in pages for row in page]

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        check_page_size(page_size)
        wanted = matchable(lookups)
        if not any(wanted.values()):
            return iter(())
        return in_pages(self._rows(node, wanted), page_size)

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        wanted = required_key_tuples(node, keys, "fetch rows by key")
        if not wanted:
            return []

        def fetch() -> list[Row]:
            table = self._table(node)
            found = self._rows_by_key(table, node, wanted, node.fetch_fields)
            return [{name: row.get(name) for name in node.fetch_fields} for row in found]

        return self._call(node.address, fetch)

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> WriteOutcome:
        # All valid, or nothing done.
        required_key_tuples(node, [c.key for c in changes], "mask rows")
        keyed = [(tuple(c.key[n] for n in node.primary_key), c.values) for c in changes]

        def run(table: Table) -> int:
            schema = table.schema()
            fitted = rows_of.fit_changes(schema, node.primary_key, keyed)
            current = self._rows_by_key(table, node, list(fitted), None)
            masked = rows_of.masked_rows(node.address, schema, current, fitted, node.primary_key)
            if masked.rows:
                new_rows = [row for _, row in masked.rows]
                where = rows_of.keys_exact_filter(node.primary_key, [k for k, _ in masked.rows])
                with table.transaction() as tx:
                    tx.overwrite(
                        pa.Table.from_pylist(new_rows, schema=schema.as_arrow()),
                        overwrite_filter=where,
                    )
            return masked.changed

        return self._write(node, run)

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> WriteOutcome:
        wanted = required_key_tuples(node, keys, "delete rows")

        def run(table: Table) -> int:
            existing = self._rows_by_key(table, node, wanted, ())
            found = [tuple(row[name] for name in node.primary_key) for row in existing]
            if found:
                with table.transaction() as tx:
                    tx.delete(rows_of.keys_exact_filter(node.primary_key, found))
            return len(found)

        return self._write(node, run)

    def check(self) -> None:
        if not self._warehouse.is_dir():
            raise ConnectorFailure(
                "iceberg lake: the warehouse directory does not exist", retryable=False
            )

        def look() -> None:
            try:
                self.catalog.load_namespace_properties(self._namespace)
            except NoSuchNamespaceError:
                raise ConnectorFailure(
                    "iceberg lake: the namespace does not exist in the catalog", retryable=False
                ) from None

        self._call("iceberg lake", look)

    def close(self) -> None:
        with self._catalog_lock:
            catalog, self._catalog = self._catalog, None
        if catalog is not None:
            catalog.engine.dispose()

    @property
    def catalog(self) -> SqlCatalog:
        """The connector's one catalog (and SQLAlchemy engine), created on first use."""
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = self._call("iceberg lake", self._open_catalog)
            return self._catalog

    # -- internals --------------------------------------------------------------------------

    def _rows(self, node: PlanNode, wanted: Mapping[str, Sequence[Scalar]]) -> Iterator[Row]:
        batches = self._call(node.address, lambda: self._lookup_batches(node, wanted))
        while (batch := self._call(node.address, lambda: next(batches, None))) is not None:
            for row in batch:
                yield {name: row.get(name) for name in node.fetch_fields}

    def _lookup_batches(
        self, node: PlanNode, wanted: Mapping[str, Sequence[Scalar]]
    ) -> Iterator[list[Row]]:
        table = self._table(node)
        expr = rows_of.lookup_filter(table.schema(), wanted)
        if expr is None:
            return iter(())
        return rows_of.scan(table, expr, node.fetch_fields)

    def _rows_by_key(
        self,
        table: Table,
        node: PlanNode,
        keys: Sequence[tuple[Any, ...]],
        fields: Sequence[str] | None,
    ) -> list[Row]:
        """Rows with exactly these keys: `fields` plus the key, or every column (None)."""
        key = node.primary_key
        wanted = rows_of.fit_keys(table.schema(), key, keys)
        expr = rows_of.keys_superset_filter(table.schema(), key, list(wanted))
        if expr is None:
            return []
        columns = None if fields is None else list(dict.fromkeys([*key, *fields]))
        found = [row for batch in rows_of.scan(table, expr, columns) for row in batch]
        return rows_of.matching(found, key, wanted)

    def _write(self, node: PlanNode, change: Callable[[Table], int]) -> WriteOutcome:
        """Run `change` (one commit, or none), then purge history; the evidence says which
        data files the commit replaced, which it wrote, and what the purge expired and removed."""

        def run() -> WriteOutcome:
            table = self._table(node)
            before = live_data_files(table)
            count = change(table)
            table.refresh()
            after = live_data_files(table)
            purge = purge_history(table, self._config.retention(), held=before - after)
            evidence = {
                "files_rewritten": self._relative(before - after),
                "files_written": self._relative(after - before),
                "files_removed": self._relative(purge.removed),
                "snapshots_expired": tuple(str(i) for i in purge.expired),
                "snapshots_retained": tuple(str(i) for i in purge.retained),
            }
            return WriteOutcome(count, {k: v for k, v in evidence.items() if v})

        with self._lock:
            return self._call(node.address, run)

    def _relative(self, locations: Iterable[str]) -> tuple[str, ...]:
        """Paths relative to the warehouse (a file outside it: its name only)."""
        out = []
        for location in locations:
            path = Path(normal_location(location))
            out.append(
                path.relative_to(self._warehouse).as_posix()
                if path.is_relative_to(self._warehouse)
                else path.name
            )
        return tuple(sorted(out))

    def _table(self, node: PlanNode) -> Table:
        name = self._config.tables.get(node.collection, node.collection)
        if not _valid_name(name):
            raise ConnectorFailure(
                f"{node.address}: the collection's name is not a valid table name; map it in "
                "`tables`",
                retryable=False,
            )
        try:
            return self.catalog.load_table((*self._namespace, name))
        except NoSuchTableError:
            raise ConnectorFailure(
                f"{node.address}: no table {name!r} in the catalog namespace", retryable=False
            ) from None

    def _open_catalog(self) -> SqlCatalog:
        uri = self._config.catalog_uri
        if uri is None:
            variable = str(self._config.catalog_uri_env)
            uri = os.environ.get(variable)
            if not uri:
                raise ConnectorFailure(
                    f"iceberg lake: environment variable {variable} is not set", retryable=False
                )
            _parse_uri(uri, failure=True)
        _require_sqlite_file(uri)
        url = _parse_uri(uri, failure=True)
        if url.drivername == "postgresql":  # psycopg 3 is installed, psycopg2 is not
            url = url.set(drivername="postgresql+psycopg")
        # init_catalog_tables=false: never create catalog tables in someone's database.
        return SqlCatalog(
            self._config.catalog_name,
            uri=url.render_as_string(hide_password=False),
            warehouse=self._warehouse.as_uri(),
            init_catalog_tables="false",
        )

    def _call(self, where: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except ConnectorFailure:
            raise
        except CommitFailedException:
            raise ConnectorFailure(
                f"{where}: iceberg commit conflicted with another writer", retryable=True
            ) from None
        except (sa_exc.SQLAlchemyError, OSError, *_PERMANENT) as exc:
            retryable = isinstance(exc, sa_exc.OperationalError) or (
                isinstance(exc, OSError) and not isinstance(exc, _PERMANENT_OS_ERRORS)
            )
            raise ConnectorFailure(
                f"{where}: iceberg lake failed ({type(exc).__name__})", retryable=retryable
            ) from None


def _valid_name(name: str) -> bool:
    return bool(name) and name.replace("_", "a").isalnum() and name.isascii()


def _parse_uri(uri: str, *, failure: bool = False) -> Any:
    try:
        return make_url(uri)
    except (sa_exc.ArgumentError, ValueError):
        message = "not a valid catalog URI (e.g. sqlite:////abs/catalog.db or postgresql://...)"
        if failure:
            raise ConnectorFailure(f"iceberg lake: {message}", retryable=False) from None
        raise ValueError(message) from None


def _require_sqlite_file(uri: str) -> None:
    """SQLite would create a missing catalog file, in which no table exists: refuse instead."""
    url = _parse_uri(uri, failure=True)
    database = url.database
    local = database and database != ":memory:" and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and local and not Path(database).is_file():
        raise ConnectorFailure(
            "iceberg lake: the catalog's SQLite database file does not exist", retryable=False
        )


def _create(config: IcebergConfig) -> IcebergLakeConnector:
    return IcebergLakeConnector(config)


ICEBERG_CONNECTOR: ConnectorSpec[IcebergConfig] = ConnectorSpec(
    kind="iceberg",
    config_model=IcebergConfig,
    factory=_create,
    capabilities=frozenset({"retrieve", "mask", "delete"}),
    description=(
        "Apache Iceberg tables in a SQL catalog (PyIceberg); erasure expires snapshots and "
        "deletes the files that held the rows"
    ),
)
