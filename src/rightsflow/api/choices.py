"""Parsing what callers send (enum values, request ids, request filters), shared by REST,
GraphQL and the console."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import TypeVar

from rightsflow.domain.errors import InvalidInput, NotFound
from rightsflow.domain.regimes import get_regime
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.services.ports import RequestFilter

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


def request_id_of(raw: str) -> str:
    """Anything that is not a UUID cannot name a request: not found, like an unknown id."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise NotFound("privacy request not found") from None


def request_filter(status: str | None, type_: str | None, regime: str | None) -> RequestFilter:
    """The list filters; InvalidInput naming the field for a value that is not one."""
    return RequestFilter(
        status=choice(RequestStatus, status, "status"),
        type=choice(RequestType, type_, "type"),
        regime=get_regime(regime).key if regime is not None else None,
    )
