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
    OPT_OUT = "opt_out"  # of sale and sharing (CCPA/CPRA, US states): recorded, nothing read
    LIMIT_USE = "limit_use"  # of sensitive personal information (CPRA): recorded, nothing read

    @property
    def reads_only(self) -> bool:
        return self in (RequestType.ACCESS, RequestType.PORTABILITY)

    @property
    def writes(self) -> bool:
        return self in (RequestType.ERASURE, RequestType.RECTIFICATION, RequestType.RESTRICTION)

    @property
    def touches_data(self) -> bool:
        """Whether the request is planned over the data map (opt-outs are decisions only)."""
        return self.reads_only or self.writes


class RequestStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"  # the subject has to prove who they are
    AWAITING_APPROVAL = "awaiting_approval"  # an operator has to decide
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"  # a step failed; the request can be retried (it is still owed)
    DENIED = "denied"  # refused, with a reason from DenialReason
    CANCELED = "canceled"  # withdrawn by the subject (or their agent) or an operator
    EXPIRED = "expired"  # never verified within the time allowed


TERMINAL = frozenset(
    {RequestStatus.COMPLETED, RequestStatus.DENIED, RequestStatus.CANCELED, RequestStatus.EXPIRED}
)

_S = RequestStatus
# Every allowed move, explicitly. Anything else is an InvalidTransition (409 over HTTP).
_TRANSITIONS: Mapping[RequestStatus, frozenset[RequestStatus]] = {
    _S.RECEIVED: frozenset(
        {
            _S.AWAITING_VERIFICATION,
            _S.AWAITING_APPROVAL,
            _S.EXECUTING,
            _S.FAILED,
            _S.DENIED,
            _S.CANCELED,
        }
    ),
    _S.AWAITING_VERIFICATION: frozenset(
        {_S.AWAITING_APPROVAL, _S.EXECUTING, _S.DENIED, _S.CANCELED, _S.EXPIRED}
    ),
    _S.AWAITING_APPROVAL: frozenset({_S.EXECUTING, _S.DENIED, _S.CANCELED}),
    _S.EXECUTING: frozenset({_S.COMPLETED, _S.FAILED, _S.CANCELED}),
    # A failed request can be retried from where it failed, or given up on.
    _S.FAILED: frozenset({_S.EXECUTING, _S.CANCELED}),
    _S.COMPLETED: frozenset(),
    _S.DENIED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.EXPIRED: frozenset(),
}


class DenialReason(StrEnum):
    """Why a request was refused: a fixed list, so reports and agents can rely on it."""

    IDENTITY_NOT_VERIFIED = "identity_not_verified"
    NO_DATA_FOUND = "no_data_found"
    EXEMPTION_APPLIES = "exemption_applies"
    MANIFESTLY_UNFOUNDED_OR_EXCESSIVE = "manifestly_unfounded_or_excessive"
    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    SUSPECTED_FRAUD = "suspected_fraud"
    AGENT_NOT_AUTHORIZED = "agent_not_authorized"

    @classmethod
    def parse(cls, raw: str) -> DenialReason:
        try:
            return cls(raw)
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInput(
                f"unknown reason; expected one of: {allowed}", field="reason"
            ) from None


def can_transition(current: RequestStatus, new: RequestStatus) -> bool:
    return new in _TRANSITIONS[current]


def allowed_next(current: RequestStatus) -> frozenset[RequestStatus]:
    return _TRANSITIONS[current]


def check_transition(current: RequestStatus, new: RequestStatus) -> None:
    if not can_transition(current, new):
        raise InvalidTransition(
            f"the request is {current.value} and cannot become {new.value}", current=current.value
        )


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
    """A request as the domain sees it. Identities are decrypted only where needed.

    Lifecycle facts are ids, times and reason codes only, never personal data."""

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
    source: str = "api"  # "api", "privacy_center", "agent:<id>", "operator:<name>"
    # The deadline runs from here: received_at, or when identity was verified where the regime
    # starts the clock only then (GDPR, UK GDPR). paused_since is set while it waits for that.
    clock_started_at: datetime | None = None
    paused_since: datetime | None = None
    acknowledge_by: datetime | None = None
    acknowledged_at: datetime | None = None
    verify_by: datetime | None = None  # unverified requests expire then
    verified_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    denial_reason: str | None = None  # a DenialReason value
    extended_at: datetime | None = None
    extension_reason: str | None = None
    closed_at: datetime | None = None  # when it reached a terminal state
    deadline_notices: tuple[str, ...] = ()  # reminders and escalations already sent
    events: list[tuple[RequestStatus, RequestStatus]] = field(default_factory=list)

    def transition(self, new: RequestStatus, at: datetime, reason: str | None = None) -> None:
        check_transition(self.status, new)
        self.events.append((self.status, new))
        self.status = new
        if new in TERMINAL:
            self.closed_at = at
        if new is RequestStatus.COMPLETED:
            self.completed_at = at
            self.failure_reason = None
        elif new is RequestStatus.FAILED:
            self.failure_reason = reason
        elif new is RequestStatus.EXECUTING and reason is None:
            self.failure_reason = None
