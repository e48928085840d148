"""Rewriting the Parquet files that hold a subject's rows, for the `parquet` connector.

Each file is read whole (its own physical schema, so partition columns stay in the directory
names), edited, written to a hidden temporary file beside it (PyArrow datasets ignore names
starting with "."), and swapped in with `os.replace` once every edited file is written, so a
failure part-way leaves every original in place. Only touched columns are rebuilt; nested
and other columns are carried over as they are. Compression and row-group size of the old
file are kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from rightsflow.domain.errors import ConnectorFailure

KeyTuple = tuple[Any, ...]
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


def normalised(edit: FileEdit, schema: Any) -> FileEdit:
    """`edit` with its keys as the dataset holds them (a key given as "7" for an integer
    column is 7); keys that fit no value of their column match nothing and are dropped."""
    types = [_type_of(schema, name) for name in edit.key]
    rows: dict[KeyTuple, tuple[Mapping[str, Any], ...]] = {}
    for key, values in edit.rows.items():
        try:
            fitted = tuple(
                value if t is None or value is None else as_type(value, t)
                for value, t in zip(key, types, strict=True)
            )
        except ValueError:
            continue
        rows[fitted] = rows.get(fitted, ()) + tuple(values)
    return replace(edit, rows=rows)


def _type_of(schema: Any, name: str) -> Any:
    index = schema.get_field_index(name)
    return schema.field(index).type if index >= 0 else None


@dataclass(frozen=True)
class FileEdit:
    """Rows to change, by primary key: `rows[key]` is the changes to apply in order (mask;
    each counts once if it changed the row), empty when `delete` is set."""

    key: tuple[str, ...]
    rows: Mapping[KeyTuple, tuple[Mapping[str, Any], ...]]
    delete: bool = False


def rewrite_files(
    files: Sequence[str], partitions: Mapping[str, Mapping[str, Any]], edit: FileEdit, address: str
) -> tuple[int, list[str]]:
    """Apply `edit` to `files`; return the rows changed (or deleted) and the files rewritten."""
    staged: list[tuple[str, str]] = []
    changed = 0
    try:
        for path in files:
            count, temp = _rewrite(path, partitions.get(path, {}), edit, address)
            if temp is not None:
                staged.append((temp, path))
                changed += count
        for temp, path in staged:
            Path(temp).replace(path)  # os.replace: atomic within the directory
    finally:
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)
    return changed, [path for _, path in staged]


def _rewrite(
    path: str, partition: Mapping[str, Any], edit: FileEdit, address: str
) -> tuple[int, str | None]:
    parquet = pq.ParquetFile(path)
    table = parquet.read()
    keys = _row_keys(table, partition, edit.key, address)
    if edit.delete:
        keep = [key not in edit.rows for key in keys]
        count = keep.count(False)
        new = table.filter(pa.array(keep, type=pa.bool_())) if count else None
    else:
        count, new = _masked(table, partition, keys, edit, address)
    if new is None:
        return 0, None
    temp = str(Path(path).with_name(f".{Path(path).name}.{uuid.uuid4().hex}.tmp"))
    _write_like(parquet, new, temp)
    return count, temp


def _row_keys(
    table: Any, partition: Mapping[str, Any], key: Sequence[str], address: str
) -> list[KeyTuple]:
    columns = []
    for name in key:
        if name in table.schema.names:
            columns.append(table.column(name).to_pylist())
        elif name in partition:
            columns.append([partition[name]] * table.num_rows)
        else:
            raise ConnectorFailure(
                f"{address}: a file lacks primary key field {name}", retryable=False
            )
    return list(zip(*columns, strict=True)) if columns else []


def _masked(
    table: Any,
    partition: Mapping[str, Any],
    keys: Sequence[KeyTuple],
    edit: FileEdit,
    address: str,
) -> tuple[int, Any]:
    hits = [(i, values) for i, key in enumerate(keys) for values in edit.rows.get(key, ())]
    names = sorted({name for _, values in hits for name in values})
    columns: dict[str, list[Any]] = {}
    for name in names:
        if name in partition:
            raise ConnectorFailure(
                f"{address}: cannot mask partition column {name} (it would move rows)",
                retryable=False,
            )
        if name not in table.schema.names:
            raise ConnectorFailure(f"{address}: no column {name} to mask", retryable=False)
        columns[name] = table.column(name).to_pylist()
    count = 0
    for index, values in hits:
        row_changed = False
        for name, value in values.items():
            new = _fit(table.schema.field(name), value, address)
            if columns[name][index] != new:
                columns[name][index] = new
                row_changed = True
        count += row_changed
    if not count:
        return 0, None
    for name, values_list in columns.items():
        column_field = table.schema.field(name)
        at = table.schema.get_field_index(name)
        table = table.set_column(at, column_field, pa.array(values_list, type=column_field.type))
    return count, table


def _fit(column: Any, value: Any, address: str) -> Any:
    """`value` as the column holds it; refuse NULL in a non-nullable column or a value of
    another type (naming the column, never the value)."""
    if value is None:
        if not column.nullable:
            raise ConnectorFailure(
                f"{address}: column {column.name} is not nullable; cannot set it to NULL",
                retryable=False,
            )
        return None
    try:
        return as_type(value, column.type)
    except ValueError:
        raise ConnectorFailure(
            f"{address}: the value for column {column.name} does not fit its type {column.type}",
            retryable=False,
        ) from None


def as_type(value: Any, arrow_type: Any) -> Any:
    """`value` as a column of `arrow_type` holds it (text is cast the way Arrow casts it, so
    "7" fits an integer partition and "0.00" a decimal); raise `ValueError` if it does not
    fit. The message never holds the value."""
    try:
        return pa.scalar(value, type=arrow_type).as_py()
    except _ARROW_ERRORS:
        pass
    if isinstance(value, str):
        try:
            return pa.scalar(value).cast(arrow_type).as_py()
        except _ARROW_ERRORS:
            pass
    raise ValueError("value does not fit the column type")


def _write_like(parquet: Any, table: Any, temp: str) -> None:
    """Write `table` to `temp` with the old file's compression and row-group size."""
    meta = parquet.metadata
    options: dict[str, Any] = {}
    if meta.num_row_groups and meta.num_columns:
        first = meta.row_group(0)
        options["compression"] = first.column(0).compression.lower()
        options["row_group_size"] = max(first.num_rows, 1)
    pq.write_table(table, temp, **options)
