"""Parsing a query argument into one of an enum's values, shared by REST and GraphQL."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from rightsflow.domain.errors import InvalidInput

E = TypeVar("E", bound=StrEnum)


def choice(enum: type[E], raw: str | None, field: str) -> E | None:
    """None stays None; anything else must be one of the enum's values (422 naming the field)."""
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInput(f"expected one of: {allowed}", field=field) from None
