"""Rectification: the new values a subject asks for, checked against the data map's fields.

Errors name the field (`corrections.<dataset>:<collection>.<path>`), never the value.
"""

from __future__ import annotations

from collections.abc import Mapping

from rightsflow.domain.datamap import DataField, DataMap
from rightsflow.domain.errors import InvalidInput

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
    kind = field.data_type or "string"
    if kind in ("integer",) and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput("expected an integer", where)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("expected a number", where)
        return float(value)
    if kind == "boolean" and not isinstance(value, bool):
        raise InvalidInput("expected true or false", where)
    if kind in ("string", "object_id"):
        if not isinstance(value, str):
            raise InvalidInput("expected a string", where)
        if field.length is not None and len(value) > field.length:
            raise InvalidInput(f"at most {field.length} characters", where)
    if kind == "object" or kind.endswith("[]"):
        raise InvalidInput(f"fields of type {kind} cannot be rectified yet", where)
    if not isinstance(value, str | int | float | bool):
        raise InvalidInput("expected a string, number or boolean", where)
    return value
