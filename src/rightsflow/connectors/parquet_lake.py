"""The `parquet` connector: a data lake of Parquet files, one directory per collection
(possibly Hive-partitioned, `col=value/` subdirectories), read through PyArrow datasets.

Lookups become a dataset filter (`field IN values`, OR-ed over fields), so PyArrow prunes
partitions and skips row groups by their statistics; results stream as record batches.
Erasure rewrites only the files that hold the rows (`parquet_rewrite`): each new file is
written next to the old one and swapped in with `os.replace`, so a reader sees the old file
or the new one, never half of either. Files that would not change are left untouched, so a
repeated erase rewrites nothing and counts 0.

Failures become `ConnectorFailure` naming the collection and the error class only, never a
value or a message from PyArrow (which may quote data).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rightsflow.connectors.base import (
    ConnectorSpec,
    Row,
    RowChange,
    Scalar,
    WriteOutcome,
    check_page_size,
    in_pages,
    matchable,
    required_key_tuples,
)
from rightsflow.connectors.parquet_rewrite import (
    FileEdit,
    KeyTuple,
    as_type,
    normalised,
    rewrite_files,
)
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode

T = TypeVar("T")
RETRIEVE_PAGE_SIZE = 5000
_SAFE_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, KeyError)
_PERMANENT_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class CollectionPath(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("must be a relative path inside the root")
        return value


class ParquetConfig(BaseModel):
    """Configuration of one `parquet` system: the lake's root directory and, optionally,
    where a collection lives under it (by default the subdirectory named after it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str = Field(min_length=1)
    collections: dict[str, CollectionPath] = Field(default_factory=dict)
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000)


class ParquetLakeConnector:
    """One lake. Thread-safe; erasures are serialised so two never rewrite the same file."""

    def __init__(self, config: ParquetConfig) -> None:
        self._config = config
        self._root = Path(config.root)
        self._lock = threading.Lock()

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
            dataset = self._dataset(node)
            pk = list(node.primary_key)
            fitted = set(
                normalised(
                    FileEdit(node.primary_key, dict.fromkeys(wanted, ())), dataset.schema
                ).rows
            )
            expr = _keys_filter(dataset.schema, pk, list(fitted))
            if expr is None:
                return []
            fields = [f for f in node.fetch_fields if f in dataset.schema.names]
            table = dataset.to_table(columns=list(dict.fromkeys([*pk, *fields])), filter=expr)
            found: list[Row] = []
            for row in table.to_pylist():
                if tuple(row[k] for k in pk) in fitted:
                    found.append({name: row.get(name) for name in node.fetch_fields})
            return found

        return self._call(node, fetch)

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> WriteOutcome:
        # All valid, or nothing done.
        required_key_tuples(node, [c.key for c in changes], "mask rows")
        rows: dict[KeyTuple, tuple[Mapping[str, Any], ...]] = {}
        for change in changes:
            key = tuple(change.key[name] for name in node.primary_key)
            rows[key] = (*rows.get(key, ()), change.values)
        return self._erase(node, FileEdit(node.primary_key, rows))

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> WriteOutcome:
        wanted = required_key_tuples(node, keys, "delete rows")
        return self._erase(node, FileEdit(node.primary_key, dict.fromkeys(wanted, ()), delete=True))

    def check(self) -> None:
        root = self._root
        if not root.is_dir():
            raise ConnectorFailure(
                "parquet lake: the root directory does not exist", retryable=False
            )
        if not os.access(root, os.R_OK | os.X_OK):
            raise ConnectorFailure(
                "parquet lake: the root directory is not readable", retryable=False
            )
        try:
            with os.scandir(root) as entries:
                next(entries, None)
        except OSError as exc:
            raise ConnectorFailure(
                f"parquet lake: cannot list the root directory ({type(exc).__name__})",
                retryable=False,
            ) from None

    def close(self) -> None:
        return

    # -- internals --------------------------------------------------------------------------

    def _rows(self, node: PlanNode, wanted: Mapping[str, Sequence[Scalar]]) -> Iterator[Row]:
        batches = self._call(node, lambda: self._batches(node, wanted))
        while (batch := self._call(node, lambda: next(batches, None))) is not None:
            for row in batch.to_pylist():
                yield {name: row.get(name) for name in node.fetch_fields}

    def _batches(self, node: PlanNode, wanted: Mapping[str, Sequence[Scalar]]) -> Iterator[Any]:
        dataset = self._dataset(node)
        expr = _lookup_filter(dataset.schema, wanted)
        if expr is None:
            return iter(())
        columns = [f for f in node.fetch_fields if f in dataset.schema.names]
        scanner = dataset.scanner(columns=columns, filter=expr, batch_size=self._config.batch_size)
        return iter(scanner.to_batches())

    def _erase(self, node: PlanNode, edit: FileEdit) -> WriteOutcome:
        """Rewrite the files holding the rows; the outcome names them (relative to the root,
        `/`-separated) for the receipt."""
        if not edit.rows:
            return _rewrote(0, [])

        def run() -> WriteOutcome:
            dataset = self._dataset(node)
            fitted = normalised(edit, dataset.schema)
            expr = _keys_filter(dataset.schema, list(edit.key), list(fitted.rows))
            if expr is None:
                return _rewrote(0, [])
            hit = dataset.to_table(columns=["__filename"], filter=expr)
            files = sorted(set(hit.column("__filename").to_pylist()))
            partitions = {
                frag.path: ds.get_partition_keys(frag.partition_expression) or {}
                for frag in dataset.get_fragments()
                if frag.path in files
            }
            changed, rewritten = rewrite_files(files, partitions, fitted, node.address)
            root = self._root.resolve()
            return _rewrote(changed, [Path(f).relative_to(root).as_posix() for f in rewritten])

        with self._lock:
            return self._call(node, run)

    def _dataset(self, node: PlanNode) -> Any:
        directory = self._directory(node)
        if not directory.is_dir():
            raise ConnectorFailure(
                f"{node.address}: no directory for the collection", retryable=False
            )
        return ds.dataset(str(directory), format="parquet", partitioning="hive")

    def _directory(self, node: PlanNode) -> Path:
        mapped = self._config.collections.get(node.collection)
        relative = mapped.path if mapped is not None else node.collection
        root = self._root.resolve()
        directory = (root / relative).resolve()
        if directory == root or not directory.is_relative_to(root):
            raise ConnectorFailure(
                f"{node.address}: the collection's path leads outside the lake root",
                retryable=False,
            )
        return directory

    def _call(self, node: PlanNode, action: Callable[[], T]) -> T:
        try:
            return action()
        except ConnectorFailure:
            raise
        except _SAFE_ERRORS as exc:
            # An I/O error may pass (a network filesystem); a missing or broken file will not.
            retryable = isinstance(exc, OSError) and not isinstance(exc, _PERMANENT_OS_ERRORS)
            raise ConnectorFailure(
                f"{node.address}: parquet lake failed ({type(exc).__name__})", retryable=retryable
            ) from None


def _field_type(schema: Any, path: str) -> Any:
    """The Arrow type at a dotted path through structs, or None if there is none."""
    current = schema
    for part in path.split("."):
        index = current.get_field_index(part) if current is not None else -1
        if index < 0:
            return None
        field = current.field(index)
        current = field.type if pa.types.is_struct(field.type) else None
        last = field.type
    return last


def _typed(values: Sequence[Scalar], arrow_type: Any) -> list[Any]:
    """The values that fit the column's type (as Arrow scalars); the others match nothing."""
    typed = []
    for value in values:
        if value is None:
            continue
        try:
            typed.append(as_type(value, arrow_type))
        except ValueError:
            continue
    return typed


def _isin(schema: Any, path: str, values: Sequence[Scalar]) -> Any:
    arrow_type = _field_type(schema, path)
    if arrow_type is None or pa.types.is_nested(arrow_type):
        return None
    typed = _typed(values, arrow_type)
    if not typed:
        return None
    return ds.field(*path.split(".")).isin(pa.array(typed, type=arrow_type))


def _lookup_filter(schema: Any, wanted: Mapping[str, Sequence[Scalar]]) -> Any:
    expr = None
    for path, values in wanted.items():
        term = _isin(schema, path, values)
        if term is not None:
            expr = term if expr is None else expr | term
    return expr


def _keys_filter(schema: Any, key: Sequence[str], tuples: Sequence[KeyTuple]) -> Any:
    """Rows whose every key column is among the wanted values (a superset of the keys:
    composite keys are matched exactly afterwards)."""
    expr = None
    for index, name in enumerate(key):
        term = _isin(schema, name, [t[index] for t in tuples])
        if term is None:
            return None
        expr = term if expr is None else expr & term
    return expr


def _create(config: ParquetConfig) -> ParquetLakeConnector:
    return ParquetLakeConnector(config)


PARQUET_CONNECTOR: ConnectorSpec[ParquetConfig] = ConnectorSpec(
    kind="parquet",
    config_model=ParquetConfig,
    factory=_create,
    capabilities=frozenset({"retrieve", "mask", "delete"}),
    description="A data lake of Parquet files (Hive partitions allowed), through PyArrow",
)


def _rewrote(rows: int, files: Sequence[str]) -> WriteOutcome:
    return WriteOutcome(rows, {"files_rewritten": tuple(files)})
