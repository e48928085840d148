"""The Data Rights Protocol 1.0, business side: signed messages, their checks, the exercise body.

Consumer Reports' DRP 1.0 (the 0.9.4 text, renumbered) has authorized agents sign every message
with Ed25519 in libsodium's combined mode (the 64-byte signature, then the JSON), base64 the
result and send it as text/plain. A Privacy Infrastructure Provider checks it in the order the
spec's section 3.07 lays down: the body decodes; the signature verifies with the key the
service directory holds for the agent (found from the URL or the pair-wise bearer token); the
`agent-id` claim is that agent; the `business-id` claim is us; `issued-at` is not in the
future; `expires-at` is not past. We then refuse a message seen before (replay) and only then
read the request itself (schema).

Every refusal is a `DrpRefused` carrying a reason code (what the audit keeps) and the spec's
error body (`code`, `message`, `fatal`). Messages never quote what the agent sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from rightsflow.domain.errors import InvalidInput, RightsflowError
from rightsflow.domain.requests import RequestType, normalise_identities

DRP_VERSION = "1.0"
# 1.0 is the 0.9.4 text released as production-ready, so agents on either speak the same thing.
ACCEPTED_VERSIONS = frozenset({"1.0", "0.9.4"})
SIGNATURE_BYTES = 64
# The spec recommends windows of at most 10 minutes. We take up to a day (some agents queue),
# and never more: a replayed message is recognised by its hash, kept until it expires.
MAX_LIFETIME = timedelta(days=1)
# Two clocks never agree exactly; a message stamped a few seconds ahead of ours is not forged.
CLOCK_SKEW = timedelta(seconds=30)
MAX_TEXT = 255
MAX_URL = 2048


class Refusal(StrEnum):
    """Why a message was refused: the reason code the audit keeps (never the message)."""

    UNKNOWN_AGENT = "unknown_agent"
    BAD_TOKEN = "bad_token"  # noqa: S105 (a reason code, not a secret)
    NOT_BASE64 = "not_base64"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"
    AGENT_MISMATCH = "agent_mismatch"
    WRONG_BUSINESS = "wrong_business"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    REPLAYED = "replayed"
    UNSUPPORTED = "unsupported"
    NOT_YOUR_REQUEST = "not_your_request"
    NOT_REVOCABLE = "not_revocable"


# HTTP status and `fatal` (the message can never succeed: do not send it again) per refusal.
# Trust failures are 403 as the spec answers them; a bad message is 400; a replay 409.
_ANSWER: Mapping[Refusal, tuple[int, bool]] = {
    Refusal.UNKNOWN_AGENT: (403, False),
    Refusal.BAD_TOKEN: (403, False),
    Refusal.NOT_BASE64: (400, True),
    Refusal.BAD_SIGNATURE: (403, True),
    Refusal.MALFORMED: (400, True),
    Refusal.AGENT_MISMATCH: (403, True),
    Refusal.WRONG_BUSINESS: (403, True),
    Refusal.NOT_YET_VALID: (400, False),  # retry once its issued-at has passed
    Refusal.EXPIRED: (400, True),  # the spec: discard it with a fatal error state
    Refusal.LIFETIME_TOO_LONG: (400, True),
    Refusal.REPLAYED: (409, True),
    Refusal.UNSUPPORTED: (400, True),
    Refusal.NOT_YOUR_REQUEST: (403, True),
    Refusal.NOT_REVOCABLE: (409, True),
}


class DrpRefused(RightsflowError):
    """A DRP message refused; `body` is the spec's error object (section 3.06)."""

    code = "drp-refused"

    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.status, self.fatal = _ANSWER[refusal]

    @property
    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": str(self.status), "message": str(self)}
        if self.fatal:
            out["fatal"] = True
        return out


def decode_verify_key(text: str) -> bytes:
    """A directory `verify_key` (base64 since DRP 0.9.1) as the 32 raw key bytes."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("verify_key is not base64", field="verify_key") from None
    if len(raw) != 32:
        raise InvalidInput("verify_key is not a 32-byte Ed25519 key", field="verify_key")
    return raw


def open_signed(body: bytes, verify_key: bytes) -> bytes:
    """The signed JSON inside a base64 combined-mode message, once its signature verifies."""
    try:
        buffer = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DrpRefused(Refusal.NOT_BASE64, "The message is not base64 encoded.") from None
    if len(buffer) <= SIGNATURE_BYTES:
        raise DrpRefused(Refusal.BAD_SIGNATURE, "The message carries no signed content.")
    try:
        return bytes(VerifyKey(verify_key).verify(buffer))
    except (BadSignatureError, CryptoError, ValueError):
        raise DrpRefused(
            Refusal.BAD_SIGNATURE, "The signature does not verify with the agent's key."
        ) from None


def message_digest(payload: bytes) -> str:
    """What identifies a message for replay: its signed content (a re-signature is no new
    message)."""
    return hashlib.sha256(payload).hexdigest()


def parse_claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise DrpRefused(Refusal.MALFORMED, "The signed content is not JSON.") from None
    if not isinstance(claims, dict):
        raise DrpRefused(Refusal.MALFORMED, "The signed content is not a JSON object.")
    return claims


def _text(claims: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise DrpRefused(Refusal.MALFORMED, f"`{name}` must be a non-empty string.")
    return value


def parse_time(claims: Mapping[str, Any], name: str) -> datetime:
    """An ISO 8601 claim as an aware UTC datetime (no offset given: UTC, as agents mean it)."""
    raw = _text(claims, name)
    try:
        at = datetime.fromisoformat(str(raw))
    except ValueError:
        raise DrpRefused(Refusal.MALFORMED, f"`{name}` is not an ISO 8601 timestamp.") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Envelope:
    """The claims that root a message in one agent, one business and one moment."""

    agent_id: str
    business_id: str
    issued_at: datetime
    expires_at: datetime


def check_envelope(
    claims: Mapping[str, Any], agent_id: str, business_id: str, now: datetime
) -> Envelope:
    """Section 3.07, after the signature: agent, business, issued-at, expires-at."""
    if _text(claims, "agent-id") != agent_id:
        raise DrpRefused(
            Refusal.AGENT_MISMATCH, "The agent-id claim is not the agent that signed the message."
        )
    if _text(claims, "business-id") != business_id:
        raise DrpRefused(Refusal.WRONG_BUSINESS, "The business-id claim is not this business.")
    issued_at, expires_at = parse_time(claims, "issued-at"), parse_time(claims, "expires-at")
    if issued_at > now + CLOCK_SKEW:
        raise DrpRefused(Refusal.NOT_YET_VALID, "The message's issued-at is in the future.")
    if now >= expires_at:
        raise DrpRefused(Refusal.EXPIRED, "The message has expired (expires-at has passed).")
    if expires_at - issued_at > MAX_LIFETIME:
        raise DrpRefused(
            Refusal.LIFETIME_TOO_LONG, "The message is valid for too long; keep it under a day."
        )
    return Envelope(agent_id, business_id, issued_at, expires_at)


def check_version(claims: Mapping[str, Any]) -> str:
    version = _text(claims, "drp.version")
    if version not in ACCEPTED_VERSIONS:
        raise DrpRefused(
            Refusal.UNSUPPORTED, f"Unsupported drp.version; this business speaks {DRP_VERSION}."
        )
    return str(version)


# DRP actions -> our request types. `sale:opt_out` is the 1.0 table's spelling; its example
# body writes `sale:opt-out`, so both are taken. `sensitive:limit` is not in 1.0: taken ahead of
# the protocol (CPRA's right to limit), never advertised.
ACTIONS: Mapping[str, RequestType] = {
    "access": RequestType.ACCESS,
    "deletion": RequestType.ERASURE,
    "sale:opt_out": RequestType.OPT_OUT,
    "sale:opt-out": RequestType.OPT_OUT,
    "sensitive:limit": RequestType.LIMIT_USE,
}
# What our businesses.json entry lists: the 1.0 schema's enum values we honour.
ADVERTISED_ACTIONS = ("access", "deletion", "sale:opt_out")
# Why the others are refused, so an agent learns what to do instead.
_NOT_TAKEN = {
    "correction": "correction needs the corrected values, which DRP 1.0 cannot carry; "
    "the consumer can ask the business directly",
    "sale:opt_in": "opting back in to sale is a consent choice, not a request",
    "access:categories": "DRP 1.0 leaves access:categories undefined; send `access`",
    "access:specific": "DRP 1.0 leaves access:specific undefined; send `access`",
}
# Identity claims (schema.org/Person as DRP 3.04 lists them) we match people by, and the flag
# saying the agent verified each. name and address are not identities here, so they are dropped.
IDENTITY_CLAIMS = {"email": "email_verified", "phone_number": "phone_number_verified"}


@dataclass(frozen=True)
class Exercise:
    """A validated Data Rights Exercise request (identities are personal data: never log)."""

    action: str
    request_type: RequestType
    regime: str  # ours
    regime_given: str | None  # as sent; None: voluntary
    identities: dict[str, str]
    verified: bool
    status_callback: str | None
    agent_request_id: str | None
    version: str


def parse_action(claims: Mapping[str, Any]) -> tuple[str, RequestType]:
    action = _text(claims, "exercise")
    if action in ACTIONS:
        return str(action), ACTIONS[str(action)]
    why = _NOT_TAKEN.get(str(action), "")
    supported = ", ".join(ADVERTISED_ACTIONS)
    raise DrpRefused(
        Refusal.UNSUPPORTED,
        f"Unsupported rights action{': ' + why if why else ''}. Supported: {supported}.",
    )


def parse_regime(claims: Mapping[str, Any], voluntary_regime: str) -> tuple[str, str | None]:
    """(our regime, the one given). DRP 1.0 has "ccpa" or none (voluntary processing)."""
    given = _text(claims, "regime", required=False)
    if given is None or given == "voluntary":
        return voluntary_regime, given
    if given == "ccpa":
        return "ccpa", given
    raise DrpRefused(Refusal.UNSUPPORTED, "Unsupported regime: send `ccpa` or no regime.")


def parse_identities(claims: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """(identities, verified): verified when the agent vouches for every identity we use."""
    given = {name: claims[name] for name in IDENTITY_CLAIMS if claims.get(name) is not None}
    if not given:
        raise DrpRefused(
            Refusal.MALFORMED, "An email or phone_number claim is needed to find the consumer."
        )
    try:
        identities = normalise_identities(given, frozenset(IDENTITY_CLAIMS))
    except InvalidInput as exc:
        raise DrpRefused(Refusal.MALFORMED, f"`{exc.field}`: {exc}.") from None
    verified = all(claims.get(IDENTITY_CLAIMS[name]) is True for name in identities)
    return identities, verified


def parse_callback(claims: Mapping[str, Any], allow_http: bool) -> str | None:
    url = _text(claims, "status_callback", required=False)
    if url is None:
        return None
    schemes = ("https://", "http://") if allow_http else ("https://",)
    if not url.lower().startswith(schemes) or any(c.isspace() for c in url):
        raise DrpRefused(Refusal.MALFORMED, "`status_callback` must be an https URL.")
    return url


def parse_exercise(
    claims: Mapping[str, Any], voluntary_regime: str, allow_http_callbacks: bool
) -> Exercise:
    """The request part of an exercise message (after its envelope has been checked)."""
    version = check_version(claims)
    action, request_type = parse_action(claims)
    regime, regime_given = parse_regime(claims, voluntary_regime)
    agent_request_id = _text(claims, "agent-request-id", required=False)
    if agent_request_id is not None and len(agent_request_id) > MAX_TEXT:
        raise DrpRefused(Refusal.MALFORMED, "`agent-request-id` is longer than 255 characters.")
    relationships = claims.get("relationships", [])
    if not isinstance(relationships, list) or not all(isinstance(r, str) for r in relationships):
        raise DrpRefused(Refusal.MALFORMED, "`relationships` must be a list of strings.")
    identities, verified = parse_identities(claims)
    return Exercise(
        action=action,
        request_type=request_type,
        regime=regime,
        regime_given=regime_given,
        identities=identities,
        verified=verified,
        status_callback=parse_callback(claims, allow_http_callbacks),
        agent_request_id=agent_request_id,
        version=version,
    )
