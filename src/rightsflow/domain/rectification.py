"""Rectification: the new values a subject asks for, checked against the data map's fields.

Errors name the field (`corrections.<dataset>:<collection>.<path>`), never the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from uuid import UUID

from rightsflow.domain.datamap import DataField, DataMap
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.masking_columns import Column, column_of

Correction = str | int | float | bool | None
MAX_CORRECTIONS = 100


def validate_corrections(datamap: DataMap, raw: Mapping[str, object]) -> dict[str, Correction]:
    """`raw` maps field addresses (`dataset:collection.path`) to new values."""
    if not raw:
        raise InvalidInput("a rectification needs at least one correction", field="corrections")
    if len(raw) > MAX_CORRECTIONS:
        raise InvalidInput(f"at most {MAX_CORRECTIONS} corrections", field="corrections")
    fields = {
        f"{c.address}.{f.path}": (f, c.primary_key) for c in datamap.collections() for f in c.fields
    }
    out: dict[str, Correction] = {}
    for address, value in sorted(raw.items()):
        where = f"corrections.{address}"
        known = fields.get(address)
        if known is None:
            raise InvalidInput("no such field in the data map (dataset:collection.field)", where)
        field, keys = known
        if field.has_children:
            raise InvalidInput("a field with nested fields cannot be set as a whole", where)
        if "." in field.path:
            raise InvalidInput("nested fields cannot be rectified yet", where)
        if field.path in keys:
            raise InvalidInput("a primary key field cannot be rectified", where)
        out[address] = _checked(field, value, where)
    return out


def _checked(field: DataField, value: object, where: str) -> Correction:
    if value is None:
        if field.nullable is False:
            raise InvalidInput("this field cannot be empty", where)
        return None
    if field.data_type == "object" or (field.data_type or "").endswith("[]"):
        raise InvalidInput(f"fields of type {field.data_type} cannot be rectified yet", where)
    column = column_of(field.data_type, field.db_type, field.length)
    check = _CHECKS.get(column.kind, _check_text)
    return check(value, column, where)


def _check_integer(value: object, column: Column, where: str) -> Correction:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("expected an integer", where)
    low, high = column.int_range
    if not low <= value <= high:
        raise InvalidInput("the number is out of this column's range", where)
    return value


def _check_number(value: object, _column: Column, where: str) -> Correction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("expected a number", where)
    return value


def _check_boolean(value: object, _column: Column, where: str) -> Correction:
    if not isinstance(value, bool):
        raise InvalidInput("expected true or false", where)
    return value


def _iso(
    parse: Callable[[str], object], expected: str
) -> Callable[[object, Column, str], Correction]:
    """A check that the value is text `parse` accepts (ISO 8601 dates and times)."""

    def check(value: object, _column: Column, where: str) -> Correction:
        if not isinstance(value, str):
            raise InvalidInput(f"expected {expected}", where)
        try:
            parse(value)
        except ValueError:
            raise InvalidInput(f"expected {expected}", where) from None
        return value

    return check


def _check_uuid(value: object, _column: Column, where: str) -> Correction:
    try:
        return str(UUID(str(value)))
    except ValueError:
        raise InvalidInput("expected a UUID", where) from None


def _check_text(value: object, column: Column, where: str) -> Correction:
    if not isinstance(value, str):
        raise InvalidInput("expected a string", where)
    if column.length is not None and len(value) > column.length:
        raise InvalidInput(f"at most {column.length} characters", where)
    return value


_CHECKS: dict[str, Callable[[object, Column, str], Correction]] = {
    "integer": _check_integer,
    "number": _check_number,
    "boolean": _check_boolean,
    "date": _iso(date.fromisoformat, "a date (YYYY-MM-DD)"),
    "datetime": _iso(datetime.fromisoformat, "a date and time (ISO 8601)"),
    "uuid": _check_uuid,
}
