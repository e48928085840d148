"""Values back in their column's Python type before they are bound.

Lookups, keys and mask values reach the connector from JSON (the platform stores rows as
JSON): a DATE is an ISO string, a NUMERIC a string, a UUID a string, bytes base64, a JSON
column a dict, a list or JSON text. Drivers and databases are strict (SQLite's Date type
refuses strings; PostgreSQL binds typed parameters), so each value is converted to the column's
Python type first. A lookup value that cannot be converted cannot match and is dropped; a key
or a value to write that cannot be converted is a failure naming the column, never the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from rightsflow.domain.connector import Scalar
from rightsflow.domain.errors import ConnectorFailure

KeyTuple = tuple[Any, ...]
_INTEGER = re.compile(r"[-+]?\d{1,19}")
_BOOLEANS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


class Uncoercible(ValueError):
    """The value cannot have the column's type."""


def coerce(column: sa.Column[Any], value: Any) -> Any:
    """`value` in `column`'s Python type; None stays None. Raises `Uncoercible`."""
    if value is None:
        return None
    if isinstance(column.type, sa.JSON):
        return _json(value)
    try:
        kind = column.type.python_type
    except NotImplementedError:  # a type SQLAlchemy does not know: the driver decides
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        return value
    try:
        return convert(value)
    except (ValueError, TypeError, ArithmeticError, binascii.Error):
        pass
    # Raised outside the handler: the parser's message may quote the value.
    raise Uncoercible(column.name)


def coerce_lookups(column: sa.Column[Any], values: Iterable[Scalar]) -> list[Any]:
    """Lookup values in the column's type, deduplicated; those that cannot match dropped."""
    coerced: dict[Any, None] = {}
    for value in values:
        try:
            coerced[coerce(column, value)] = None
        except Uncoercible:
            continue
    coerced.pop(None, None)  # NULL never matches `IN`
    return list(coerced)


def coerce_keys(
    address: str, columns: Sequence[sa.Column[Any]], keys: Iterable[KeyTuple]
) -> list[KeyTuple]:
    """Key tuples in the key columns' types, deduplicated after conversion."""
    coerced: dict[KeyTuple, None] = {}
    for key in keys:
        coerced[tuple(_strict(address, c, v) for c, v in zip(columns, key, strict=True))] = None
    return list(coerced)


def coerce_values(address: str, table: sa.Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values to write (`RowChange.values`) in their columns' types."""
    return {name: _strict(address, table.c[name], value) for name, value in values.items()}


def bindable(column: sa.Column[Any], value: Any) -> Any:
    """What to bind for `value`: None in a JSON column is SQL NULL, not JSON `null`."""
    return sa.null() if value is None and isinstance(column.type, sa.JSON) else value


def holds(column: sa.Column[Any], value: Any, dialect: str) -> sa.ColumnElement[bool]:
    """`column IS NOT DISTINCT FROM value`, comparable on every backend: PostgreSQL's `json`
    has no equality operator, so both sides are compared as `jsonb` there."""
    json = isinstance(column.type, sa.JSON)
    if value is None:
        # A JSON `null` reads as None too: already "NULL" for the platform, left alone.
        return sa.or_(column.is_(None), _json_null(column, dialect)) if json else column.is_(None)
    if json and dialect == "postgresql" and not isinstance(column.type, postgresql.JSONB):
        jsonb = postgresql.JSONB()
        return sa.cast(column, jsonb).is_not_distinct_from(sa.cast(sa.literal(value, jsonb), jsonb))
    return column.is_not_distinct_from(value)


def _json_null(column: sa.Column[Any], dialect: str) -> sa.ColumnElement[bool]:
    if dialect == "postgresql":
        return sa.func.jsonb_typeof(sa.cast(column, postgresql.JSONB())) == "null"
    # SQLite and MariaDB keep JSON as text; SQLAlchemy writes JSON null as `null`.
    return sa.type_coerce(column, sa.String()) == sa.literal("null", sa.String())


def _strict(address: str, column: sa.Column[Any], value: Any) -> Any:
    try:
        return coerce(column, value)
    except Uncoercible:
        pass
    type_name = type(column.type).__name__
    raise ConnectorFailure(
        f"{address}: a value for column {column.name} cannot be converted to {type_name}",
        retryable=False,
    )


def _json(value: Any) -> Any:
    """JSON text is parsed; any other text is a JSON string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    raise ValueError


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError
    return float(value)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | str):
        return Decimal(value.strip() if isinstance(value, str) else value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the float's shortest text, not its binary expansion
    raise TypeError


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):  # JSON kept in a text column (MySQL without JSON, ...)
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise TypeError


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ValueError


def _from_text(kind: type[Any], parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if isinstance(value, str):
            return parse(value.strip())
        raise TypeError

    return convert


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return base64.b64decode(value, validate=True)
    raise TypeError


_CONVERTERS: dict[type[Any], Callable[[Any], Any]] = {
    int: _int,
    float: _float,
    Decimal: _decimal,  # InvalidOperation is an ArithmeticError
    str: _str,
    bool: _bool,
    datetime: _from_text(datetime, datetime.fromisoformat),
    date: _from_text(date, date.fromisoformat),
    time: _from_text(time, time.fromisoformat),
    bytes: _bytes,
    uuid.UUID: _from_text(uuid.UUID, uuid.UUID),
}
