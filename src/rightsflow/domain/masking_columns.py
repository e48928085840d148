"""What a column can hold, read from the data map's facts (and, failing those, the value)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

Kind = Literal["string", "integer", "number", "boolean", "date", "datetime", "uuid", "unknown"]

_INT32 = (-(2**31), 2**31 - 1)
_INT_BITS = {
    "TINYINT": 8,
    "SMALLINT": 16,
    "INT2": 16,
    "SMALLSERIAL": 16,
    "MEDIUMINT": 24,
    "INT": 32,
    "INTEGER": 32,
    "INT4": 32,
    "SERIAL": 32,
    "BIGINT": 64,
    "INT8": 64,
    "BIGSERIAL": 64,
}
_DECIMALS = {"NUMERIC", "DECIMAL", "NUMBER", "DEC"}
_FLOATS = {"REAL", "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "MONEY"}
_STRINGS = {
    "CHAR",
    "CHARACTER",
    "NCHAR",
    "VARCHAR",
    "NVARCHAR",
    "VARCHAR2",
    "NVARCHAR2",
    "CHARACTER VARYING",
    "TEXT",
    "CLOB",
    "STRING",
    "CITEXT",
}
_DATA_TYPES: dict[str, Kind] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
}
_DB_TYPE = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*"
    r"(WITH(?:OUT)? TIME ZONE)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Column:
    kind: Kind
    length: int | None  # characters, for text
    int_range: tuple[int, int] = _INT32  # what an integer produced for this column must fit


def column_of(
    data_type: str | None, db_type: str | None, length: int | None, value: object = None
) -> Column:
    """The column's kind: the native type wins, then fideslang's data_type, then the value."""
    kind, db_length, int_range = _from_db_type(db_type)
    if kind == "unknown" and data_type is not None:
        kind = _DATA_TYPES.get(data_type, "unknown")
    if kind == "unknown":
        kind = kind_of_value(value)
    return Column(kind, length if length is not None else db_length, int_range)


def kind_of_value(value: object) -> Kind:
    # bool before int and datetime before date: each is a subclass of the next.
    for types, kind in _VALUE_KINDS:
        if isinstance(value, types):
            return kind
    return "unknown"


_VALUE_KINDS: tuple[tuple[type | tuple[type, ...], Kind], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    ((float, Decimal), "number"),
    (datetime, "datetime"),
    (date, "date"),
    (str, "string"),
)


@functools.lru_cache(maxsize=256)  # called per value; a data map has few distinct types
def _from_db_type(db_type: str | None) -> tuple[Kind, int | None, tuple[int, int]]:
    match = _DB_TYPE.match(db_type or "")
    if match is None:
        return "unknown", None, _INT32
    base = " ".join(match.group(1).upper().split())
    if base.split()[0] in _INT_BITS:  # "BIGINT UNSIGNED", "INT IDENTITY"
        base = base.split()[0]
    first = int(match.group(2)) if match.group(2) else None
    scale = int(match.group(3)) if match.group(3) else 0
    if base in _INT_BITS:
        half = 2 ** (_INT_BITS[base] - 1)
        return "integer", None, (-half, half - 1)
    if base in _DECIMALS:
        # NUMERIC(p, s) holds fewer than 10**(p - s) in its integer part.
        bound = 10 ** (first - scale) - 1 if first is not None else _INT32[1]
        return "number", None, (-min(bound, _INT32[1]), min(bound, _INT32[1]))
    if base in _STRINGS:
        return "string", first, _INT32
    if base.startswith(("TIMESTAMP", "DATETIME")):
        return "datetime", None, _INT32
    kind = _OTHER_DB_TYPES.get(base, "unknown")
    return kind, 36 if kind == "uuid" else None, _INT32


_OTHER_DB_TYPES: dict[str, Kind] = {
    **dict.fromkeys(_FLOATS, "number"),
    "BOOL": "boolean",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "UUID": "uuid",
    "UNIQUEIDENTIFIER": "uuid",
}
