"""Privacy requests: types, identities and the state machine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rightsflow.domain.errors import InvalidInput, InvalidTransition


class RequestType(StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"  # correct named fields of the subject's records
    RESTRICTION = "restriction"  # set the data map's restriction flag on the subject's records
    PORTABILITY = "portability"  # the access package, machine-readable (JSON and CSV)

    @property
    def reads_only(self) -> bool:
        return self in (RequestType.ACCESS, RequestType.PORTABILITY)

    @property
    def writes(self) -> bool:
        return not self.reads_only


class RequestStatus(StrEnum):
    RECEIVED = "received"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({RequestStatus.COMPLETED, RequestStatus.CANCELED})

# Later issues add verification and approval states between RECEIVED and EXECUTING.
_TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.RECEIVED: frozenset(
        {RequestStatus.EXECUTING, RequestStatus.FAILED, RequestStatus.CANCELED}
    ),
    RequestStatus.EXECUTING: frozenset(
        {RequestStatus.COMPLETED, RequestStatus.FAILED, RequestStatus.CANCELED}
    ),
    # A failed request can be retried from where it failed, or given up on.
    RequestStatus.FAILED: frozenset({RequestStatus.EXECUTING, RequestStatus.CANCELED}),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.CANCELED: frozenset(),
}


def can_transition(current: RequestStatus, new: RequestStatus) -> bool:
    return new in _TRANSITIONS[current]


def check_transition(current: RequestStatus, new: RequestStatus) -> None:
    if not can_transition(current, new):
        raise InvalidTransition(f"a {current.value} request cannot become {new.value}")


IDENTITY_TYPES = ("email", "phone_number", "user_id")
_CUSTOM_IDENTITY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{5,32}$")


def normalise_identities(
    raw: Mapping[str, object], known_types: frozenset[str] = frozenset(IDENTITY_TYPES)
) -> dict[str, str]:
    """Validate identity values and put them in canonical form.

    `known_types` is every identity type the data map uses plus the built-ins; anything else is
    rejected so a typo cannot silently match nothing. Error messages name fields, never values.
    """
    if not raw:
        raise InvalidInput("at least one identity is required", field="identities")
    out: dict[str, str] = {}
    for key, value in sorted(raw.items()):
        where = f"identities.{key}"
        if key not in known_types or not _CUSTOM_IDENTITY.match(key):
            allowed = ", ".join(sorted(known_types))
            raise InvalidInput(f"unknown identity type; expected one of: {allowed}", field=where)
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InvalidInput("identity values must be strings", field=where)
        text = str(value).strip()
        if not text or len(text) > 320:
            raise InvalidInput("identity value must be 1 to 320 characters", field=where)
        if key == "email":
            if not _EMAIL.match(text):
                raise InvalidInput("not a valid email address", field=where)
            text = text.lower()
        elif key == "phone_number" and not _PHONE.match(text):
            raise InvalidInput("not a valid phone number", field=where)
        out[key] = text
    return out


@dataclass
class PrivacyRequest:
    """A request as the domain sees it. Identities are decrypted only where needed."""

    id: str
    type: RequestType
    regime: str
    policy_key: str
    status: RequestStatus
    received_at: datetime
    due_at: datetime
    identity_types: tuple[str, ...]
    completed_at: datetime | None = None
    failure_reason: str | None = None
    attempt: int = 1
    idempotency_key: str | None = None
    events: list[tuple[RequestStatus, RequestStatus]] = field(default_factory=list)

    def transition(self, new: RequestStatus, at: datetime, reason: str | None = None) -> None:
        check_transition(self.status, new)
        self.events.append((self.status, new))
        self.status = new
        if new is RequestStatus.COMPLETED:
            self.completed_at = at
            self.failure_reason = None
        elif new is RequestStatus.FAILED:
            self.failure_reason = reason
        elif new is RequestStatus.EXECUTING and reason is None:
            self.failure_reason = None
