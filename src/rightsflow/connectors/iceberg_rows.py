"""Row filters, scans and row edits for the `iceberg` connector, in PyIceberg's own terms.

Lookup values are fitted to the column's Iceberg type first (a value that cannot be held by the
column matches nothing, as in SQL), so binding a filter never fails on a stray value and no
PyIceberg message, which may quote the value, reaches a caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from pyiceberg.expressions import And, BooleanExpression, EqualTo, In, Or
from pyiceberg.expressions.literals import AboveMax, BelowMin, Literal, literal
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import IcebergType, PrimitiveType

from rightsflow.connectors.base import Row, Scalar
from rightsflow.domain.errors import ConnectorFailure

KeyTuple = tuple[Any, ...]


def column_type(schema: Schema, path: str) -> PrimitiveType | None:
    """The primitive type at a (dotted) column path, or None if there is no such column."""
    try:
        found: IcebergType = schema.find_type(path)
    except ValueError:
        return None
    return found if isinstance(found, PrimitiveType) else None


def _has_column(schema: Schema, path: str) -> bool:
    try:
        schema.find_field(path)
    except ValueError:
        return False
    return True


def fitted(values: Sequence[Scalar], column: PrimitiveType) -> list[Literal[Any]]:
    """The values the column can hold, as literals of its type, each once; others are dropped."""
    out: dict[Any, Literal[Any]] = {}
    for value in values:
        if value is None:
            continue
        try:
            lit = literal(_any(value)).to(column)
        except (ValueError, TypeError, ArithmeticError):
            continue
        if not isinstance(lit, AboveMax | BelowMin):
            out.setdefault(lit.value, lit)
    return list(out.values())


def balanced(combine: Callable[..., BooleanExpression], terms: Sequence[BooleanExpression]) -> Any:
    """`terms` joined by `combine` (And/Or) as a balanced tree: PyIceberg's visitors recurse,
    and a chain of thousands of terms would exceed Python's recursion limit."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return combine(balanced(combine, terms[:middle]), balanced(combine, terms[middle:]))


def lookup_filter(schema: Schema, wanted: Mapping[str, Sequence[Scalar]]) -> Any:
    """Rows where any lookup column holds one of its values (OR over columns); None if no
    value fits any existing column, i.e. no row can match."""
    terms: list[BooleanExpression] = []
    for path, values in wanted.items():
        column = column_type(schema, path)
        lits = fitted(values, column) if column is not None else []
        if lits:
            terms.append(In(term=path, literals=lits))
    return balanced(Or, terms) if terms else None


def keys_superset_filter(schema: Schema, key: Sequence[str], tuples: Sequence[KeyTuple]) -> Any:
    """Rows whose every key column is among the wanted values: a superset of the keys for
    reads (composite keys are then matched exactly in Python); None if none can match."""
    terms: list[BooleanExpression] = []
    for index, name in enumerate(key):
        column = column_type(schema, name)
        lits = fitted([t[index] for t in tuples], column) if column is not None else []
        if not lits:
            return None
        terms.append(In(term=name, literals=lits))
    return balanced(And, terms)


def keys_exact_filter(key: Sequence[str], tuples: Sequence[KeyTuple]) -> Any:
    """Exactly these keys, for writes. `tuples` are key values as read from the table (already
    of the columns' types). Composite keys are grouped on all but the last column, so the
    expression has one term per group: `a = x AND b IN (...)`."""
    if len(key) == 1:
        return In(term=key[0], literals=[t[0] for t in tuples])
    groups: dict[KeyTuple, list[Any]] = {}
    for t in tuples:
        groups.setdefault(t[:-1], []).append(t[-1])
    terms = [
        balanced(
            And,
            [
                *(EqualTo(term=n, value=v) for n, v in zip(key[:-1], prefix, strict=True)),
                In(term=key[-1], literals=last),
            ],
        )
        for prefix, last in groups.items()
    ]
    return balanced(Or, terms)


def matching(rows: Sequence[Row], key: Sequence[str], wanted: set[KeyTuple]) -> list[Row]:
    """The rows whose key tuple is wanted (compared after fitting both to the column types)."""
    return [row for row in rows if tuple(row[name] for name in key) in wanted]


def fit_keys(schema: Schema, key: Sequence[str], tuples: Sequence[KeyTuple]) -> set[KeyTuple]:
    """The key tuples as the table holds them (e.g. "7" for a long key is 7); a tuple with a
    value the column cannot hold cannot exist and is dropped."""
    types = [column_type(schema, name) for name in key]
    out: set[KeyTuple] = set()
    for t in tuples:
        lits = [fitted([v], c) if c is not None else [] for v, c in zip(t, types, strict=True)]
        if all(lits):
            out.add(tuple(_python(lit[0]) for lit in lits))
    return out


def _python(lit: Literal[Any]) -> Any:
    """A literal's value as PyArrow returns it from a scan (dates, times, decimals ...)."""
    value = lit.value
    column = _ARROW_OF.get(type(lit).__name__)
    return pa.scalar(value, type=column).as_py() if column is not None else value


# Literals whose `.value` is an encoded number, not the Python value a scan returns.
_ARROW_OF: dict[str, Any] = {
    "DateLiteral": pa.date32(),
    "TimeLiteral": pa.time64("us"),
    "TimestampLiteral": pa.timestamp("us"),
}


@dataclass(frozen=True)
class Masked:
    """The rows to write back, keyed by their key as it is now (a change may rewrite a key
    column), and how many changes altered a row (each change counts once, in order)."""

    rows: list[tuple[KeyTuple, Row]]
    changed: int


def masked_rows(
    address: str,
    schema: Schema,
    current: Sequence[Row],
    changes: Mapping[KeyTuple, Sequence[Mapping[str, Any]]],
    key: Sequence[str],
) -> Masked:
    """Apply each row's changes in order. Every state is normalised through the table's Arrow
    schema, so a change to the value a row already holds is no change."""
    arrow_schema = schema.as_arrow()
    names = set(arrow_schema.names)
    states: list[Row] = []
    spans: list[tuple[int, int]] = []
    for row in current:
        start = len(states)
        states.append(dict(row))
        for values in changes[tuple(row[n] for n in key)]:
            _check_columns(address, schema, names, values)
            states.append({**states[-1], **values})
        spans.append((start, len(states)))
    try:
        normal = pa.Table.from_pylist(states, schema=arrow_schema).to_pylist()
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        raise ConnectorFailure(
            f"{address}: a new value does not fit its column's type ({type(exc).__name__})",
            retryable=False,
        ) from None
    out: list[tuple[KeyTuple, Row]] = []
    changed = 0
    for start, stop in spans:
        steps = normal[start:stop]
        changed += sum(a != b for a, b in itertools.pairwise(steps))
        if steps[0] != steps[-1]:
            out.append((tuple(steps[0][n] for n in key), steps[-1]))
    return Masked(out, changed)


def scan(table: Table, expr: Any, columns: Sequence[str] | None) -> Iterator[list[Row]]:
    """Rows matching `expr` as lists of rows, one data file at a time (PyIceberg's own batch
    reader submits every file at once, which holds the whole result in memory)."""
    schema = table.schema()
    if columns is None:
        selected: tuple[str, ...] = ("*",)
    else:
        present = [c for c in columns if _has_column(schema, c)]
        # No wanted column exists: read the first one so rows are still counted.
        selected = tuple(present) or (schema.fields[0].name,)
    planned = table.scan(row_filter=expr, selected_fields=selected)
    projected = planned.projection()
    for task in planned.plan_files():
        reader = ArrowScan(table.metadata, table.io, projected, expr)
        for batch in reader.to_record_batches([task]):
            yield batch.to_pylist()


def _check_columns(
    address: str, schema: Schema, names: set[str], values: Mapping[str, Any]
) -> None:
    for name, value in values.items():
        if name not in names:
            raise ConnectorFailure(
                f"{address}: cannot mask {name!r}: not a top-level column of the table",
                retryable=False,
            )
        if value is None and schema.find_field(name).required:
            raise ConnectorFailure(
                f"{address}: cannot set {name!r} to NULL: the column is required", retryable=False
            )


def fit_changes(
    schema: Schema, key: Sequence[str], changes: Sequence[tuple[KeyTuple, Mapping[str, Any]]]
) -> dict[KeyTuple, list[Mapping[str, Any]]]:
    """Each key's changes in order, keyed as the table holds the keys; a key no row can have
    is dropped."""
    out: dict[KeyTuple, list[Mapping[str, Any]]] = {}
    for raw, values in changes:
        for fitted_key in fit_keys(schema, key, [raw]):
            out.setdefault(fitted_key, []).append(values)
    return out


def _any(value: Scalar) -> Any:
    # PyIceberg's `literal` is typed per Python type; a Scalar is any of them.
    return value
