"""DRP 1.0 documents: request statuses mapped from ours, the service directory's agents.json,
and our own businesses.json entry."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from rightsflow.domain.drp import ADVERTISED_ACTIONS, decode_verify_key
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import DenialReason, PrivacyRequest, RequestStatus


class DrpState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    REVOKED = "revoked"
    DENIED = "denied"
    EXPIRED = "expired"


_S = RequestStatus
# Ours -> DRP (section 3.02). Received, or waiting for the consumer or a reviewer: "open"
# (submitted, not yet being acted on). Executing, or failed (a failed request is retried; it is
# still owed): "in_progress". Canceled and expired depend on who and why: see drp_state.
_STATE: Mapping[RequestStatus, DrpState] = {
    _S.RECEIVED: DrpState.OPEN,
    _S.AWAITING_VERIFICATION: DrpState.OPEN,
    _S.AWAITING_APPROVAL: DrpState.OPEN,
    _S.EXECUTING: DrpState.IN_PROGRESS,
    _S.FAILED: DrpState.IN_PROGRESS,
    _S.COMPLETED: DrpState.FULFILLED,
    _S.DENIED: DrpState.DENIED,
}

# Our denial reasons -> the spec's denied reasons (3.02).
DENIAL_REASONS: Mapping[DenialReason, str] = {
    DenialReason.IDENTITY_NOT_VERIFIED: "insuf_verification",
    DenialReason.NO_DATA_FOUND: "no_match",
    DenialReason.EXEMPTION_APPLIES: "claim_not_covered",
    DenialReason.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE: "too_many_requests",
    DenialReason.OUTSIDE_JURISDICTION: "outside_jurisdiction",
    DenialReason.SUSPECTED_FRAUD: "suspected_fraud",
    DenialReason.AGENT_NOT_AUTHORIZED: "other",
}

_DETAILS: Mapping[RequestStatus, str] = {
    _S.AWAITING_VERIFICATION: "Waiting for the consumer to confirm their identity with the "
    "business.",
    _S.AWAITING_APPROVAL: "The request is being reviewed.",
    _S.FAILED: "Processing was interrupted; it will be resumed.",
}
_AGENT_NOT_AUTHORIZED = "The agent's authority to act for the consumer could not be confirmed."
_WITHDRAWN = "The request was withdrawn by the business."


def revoked_by(actor: str | None) -> bool:
    """A cancellation the consumer made, themselves or through an agent, is DRP's "revoked"."""
    return actor is not None and (actor == "subject" or actor.startswith("agent:"))


def drp_state(request: PrivacyRequest, canceled_by: str | None) -> tuple[DrpState, str | None]:
    """(state, reason) of a request in DRP terms."""
    status = request.status
    if status is _S.CANCELED:
        if revoked_by(canceled_by):
            return DrpState.REVOKED, None
        return DrpState.DENIED, "other"  # DRP has no "withdrawn by the business"
    if status is _S.EXPIRED:
        # Ours expires when the consumer never verified in time: exactly DRP's
        # denied/insuf_verification ("the verification stage failed or timed out"). DRP's own
        # "expired" is about record keeping after its expires_at, which we do not announce.
        return DrpState.DENIED, "insuf_verification"
    if status is _S.DENIED:
        try:
            return DrpState.DENIED, DENIAL_REASONS[DenialReason(request.denial_reason or "")]
        except ValueError:
            return DrpState.DENIED, "other"
    return _STATE[status], None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _details(request: PrivacyRequest, canceled_by: str | None) -> str | None:
    parts = []
    if request.status in _DETAILS:
        parts.append(_DETAILS[request.status])
    if request.status is _S.CANCELED and not revoked_by(canceled_by):
        parts.append(_WITHDRAWN)
    if request.denial_reason == DenialReason.AGENT_NOT_AUTHORIZED.value:
        parts.append(_AGENT_NOT_AUTHORIZED)
    if request.extended_at is not None:
        # 3.08: an extended expected_by comes with the reason, for the consumer.
        why = f": {request.extension_reason}" if request.extension_reason else ""
        parts.append(f"The response deadline was extended{why}.")
    return " ".join(parts) or None


def status_document(
    request: PrivacyRequest, agent_request_id: str | None, canceled_by: str | None = None
) -> dict[str, Any]:
    """The Exercise Status object (3.03) of one request."""
    state, reason = drp_state(request, canceled_by)
    doc: dict[str, Any] = {
        "request_id": request.id,
        "status": state.value,
        "received_at": _iso(request.received_at),
        "expected_by": _iso(request.due_at),
    }
    if agent_request_id is not None:
        doc["agent_request_id"] = agent_request_id
    if reason is not None:
        doc["reason"] = reason
    details = _details(request, canceled_by)
    if details is not None:
        doc["processing_details"] = details
    return doc


def fingerprint(document: Mapping[str, Any]) -> str:
    """Identifies a status document, so the same news is never sent twice."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class DrpRequestRecord:
    """What DRP adds to one of our requests: who sent it and where to tell them. No personal
    data (the identities live, sealed, with the request)."""

    request_id: str
    agent_id: str
    action: str
    regime_given: str | None
    agent_request_id: str | None
    status_callback: str | None
    created_at: datetime
    notified: str | None = None  # fingerprint of the last status the agent has
    notified_at: datetime | None = None


# ---- the service directory ----------------------------------------------------------------

_AGENT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


@dataclass(frozen=True)
class DirectoryAgent:
    """One entry of agents.json (3.05.1); `verify_key` is the raw 32-byte Ed25519 key."""

    id: str
    name: str
    verify_key: bytes
    web_url: str | None = None
    identity_assurance_url: str | None = None
    technical_contact: str | None = None
    business_contact: str | None = None


def _optional(entry: Mapping[str, Any], name: str) -> str | None:
    value = entry.get(name)
    return value if isinstance(value, str) and value else None


def parse_agent(entry: object) -> DirectoryAgent:
    if not isinstance(entry, dict):
        raise InvalidInput("an agent entry must be an object")
    agent_id = entry.get("id")
    if not isinstance(agent_id, str) or not _AGENT_ID.match(agent_id):
        raise InvalidInput("id must be 1-128 letters, digits, '_', '-' or '.'", field="id")
    key = entry.get("verify_key")
    if not isinstance(key, str):
        raise InvalidInput("verify_key is missing", field="verify_key")
    return DirectoryAgent(
        id=agent_id,
        name=_optional(entry, "name") or agent_id,
        verify_key=decode_verify_key(key),
        web_url=_optional(entry, "web_url"),
        identity_assurance_url=_optional(entry, "identity_assurance_url"),
        technical_contact=_optional(entry, "technical_contact"),
        business_contact=_optional(entry, "business_contact"),
    )


def parse_directory(text: bytes) -> tuple[dict[str, DirectoryAgent], list[str]]:
    """agents.json (a JSON array of agents) -> (agents by id, problems). A bad entry is left
    out and named, so one mistake does not lock every other agent out."""
    try:
        entries = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the agents directory is not JSON") from None
    if not isinstance(entries, list):
        raise InvalidInput("the agents directory must be a JSON array of agents")
    agents: dict[str, DirectoryAgent] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            agent = parse_agent(entry)
        except InvalidInput as exc:
            problems.append(f"agent #{index}: {exc}")
            continue
        if agent.id in agents:
            problems.append(f"agent #{index}: id {agent.id} is listed twice; the first is kept")
            continue
        agents[agent.id] = agent
    return agents, problems


@dataclass(frozen=True)
class BusinessProfile:
    """Our entry in the directory's businesses.json (3.05.2)."""

    id: str
    name: str
    api_base: str
    logo: str | None = None
    web_url: str | None = None
    privacy_policy_url: str | None = None
    technical_contact: str | None = None
    business_contact: str | None = None
    supported_verifications: Sequence[str] = ("email",)


def business_entry(profile: BusinessProfile) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": profile.id,
        "name": profile.name,
        "logo": profile.logo,
        "api_base": profile.api_base,
        "supported_actions": list(ADVERTISED_ACTIONS),
        "supported_verifications": list(profile.supported_verifications),
    }
    optional = {
        "web_url": profile.web_url,
        "privacy_policy_url": profile.privacy_policy_url,
        "technical_contact": profile.technical_contact,
        "business_contact": profile.business_contact,
    }
    entry.update({k: v for k, v in optional.items() if v is not None})
    return entry
