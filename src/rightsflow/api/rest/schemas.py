"""Request and response bodies of the privacy-request API. Identities go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rightsflow.domain.regimes import REGIMES, appeal_until, get_regime
from rightsflow.domain.requests import (
    DenialReason,
    PrivacyRequest,
    RequestStatus,
    RequestType,
    allowed_next,
)


class SubmitBody(BaseModel):
    """`type` and `regime` are plain strings so the domain's own checks name the field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "access", "identities": {"email": "ada@example.com"}, "regime": "gdpr"}
            ]
        },
    )

    # The enums document the accepted values (the domain still checks them, naming the field).
    type: str = Field(
        description="access | erasure | rectification | restriction | portability | opt_out "
        "(of sale/sharing) | limit_use (of sensitive personal information)",
        json_schema_extra={"enum": [t.value for t in RequestType]},
    )
    identities: dict[str, str] = Field(description="Identity type -> value, e.g. email")
    regime: str = Field(
        description="Legal regime, e.g. gdpr, ccpa",
        json_schema_extra={"enum": [*sorted(REGIMES)]},
    )
    policy: str | None = Field(default=None, description="Policy key; default per type")
    corrections: dict[str, str | int | float | bool | None] | None = Field(
        default=None,
        description="Rectification only: field address (dataset:collection.field) -> new value",
        examples=[{"shop:customers.name": "Ada Lovelace"}],
    )
    identity_verified: bool = Field(
        default=False,
        description="True when your system has already verified the person (e.g. they are "
        "signed in): no code is emailed. Otherwise, where the regime asks for verification, "
        "the subject is sent a one-time code first.",
    )


class RequestSummary(BaseModel):
    id: str
    status: str
    type: str
    regime: str
    source: str = Field(description="api | privacy_center | agent:<id> | operator:<name>")
    received_at: datetime
    due_at: datetime = Field(description="The response deadline the regime sets (end of day)")
    acknowledge_by: datetime | None = None
    acknowledged_at: datetime | None = None
    deadline_paused: bool = Field(
        default=False, description="The clock waits for proof of identity (GDPR, UK GDPR)"
    )
    verify_by: datetime | None = Field(default=None, description="Unverified requests expire then")
    verified_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    denial_reason: str | None = None
    appeal_until: datetime | None = Field(
        default=None, description="Denied: the subject may appeal until then (VA, CO, CT)"
    )
    extended_at: datetime | None = None
    extension_reason: str | None = None
    closed_at: datetime | None = None
    next_actions: list[str] = Field(
        default_factory=list, description="States this request may move to next"
    )

    @classmethod
    def of(cls, request: PrivacyRequest) -> RequestSummary:
        return cls(
            id=request.id,
            status=request.status.value,
            type=request.type.value,
            regime=request.regime,
            source=request.source,
            received_at=request.received_at,
            due_at=request.due_at,
            acknowledge_by=request.acknowledge_by,
            acknowledged_at=request.acknowledged_at,
            deadline_paused=request.paused_since is not None,
            verify_by=request.verify_by,
            verified_at=request.verified_at,
            decided_at=request.decided_at,
            decided_by=request.decided_by,
            denial_reason=request.denial_reason,
            appeal_until=_appeal_until(request),
            extended_at=request.extended_at,
            extension_reason=request.extension_reason,
            closed_at=request.closed_at,
            next_actions=sorted(s.value for s in allowed_next(request.status)),
        )


def _appeal_until(request: PrivacyRequest) -> datetime | None:
    if request.status is not RequestStatus.DENIED or request.decided_at is None:
        return None
    return appeal_until(get_regime(request.regime), request.type, request.decided_at)


class Submitted(RequestSummary):
    subject_token: str = Field(
        description="The subject's credential for their own request (status, code, "
        "withdrawal); give it to them, not to anyone else"
    )


class DenyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        description=f"One of: {', '.join(r.value for r in DenialReason)}",
        json_schema_extra={"enum": [r.value for r in DenialReason]},
    )


class ExtendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(description="Why more time is needed; the subject is told it")
    period: str | None = Field(
        default=None,
        description="e.g. '45 days' or '2 months'; default: the most the regime allows",
    )


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64, description="The code mailed to the subject")


class PhaseState(BaseModel):
    status: str = Field(description="pending | done | failed")
    rows_found: int = 0
    rows_masked: int = 0
    rows_deleted: int = 0
    remaining: int = Field(default=0, description="recheck: rows still holding targeted data")
    detail: str | None = None
    updated_at: datetime | None = None


class CollectionProgress(BaseModel):
    collection: str = Field(description="dataset:collection")
    action: str = Field(description="read | return | mask | delete")
    retrieve: PhaseState
    erase: PhaseState | None = Field(default=None, description="null when nothing is erased")
    recheck: PhaseState | None = None


class Unreachable(BaseModel):
    collection: str
    reason: str


class SystemQuestion(BaseModel):
    """A question put to a system that answers for itself (an internal service, a person)."""

    system: str
    operation: str = Field(description="access | erase | recheck")
    status: str = Field(description="pending | answered | overdue | failed")
    asked_at: datetime
    due_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = Field(default=None, description='"service" or the person')
    outcome: str | None = Field(default=None, description="done | no_data | cannot_comply")
    reminders: int = 0
    detail: str | None = Field(default=None, description="Why it failed or is overdue")


class Progress(BaseModel):
    planned: bool
    asked: list[SystemQuestion] = Field(
        default_factory=list, description="Questions put to services and people, and answers"
    )
    systems: dict[str, list[CollectionProgress]] = Field(
        default_factory=dict, description="System key -> its collections in plan order"
    )
    unreachable: list[Unreachable] = Field(
        default_factory=list, description="Collections with targeted data the plan cannot reach"
    )


class RequestDetailOut(BaseModel):
    id: str
    type: str
    status: str
    regime: str
    policy: str
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    failure_reason: str | None
    attempt: int
    progress: Progress


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class AuditEventOut(BaseModel):
    action: str
    at: datetime
    actor: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]


class FieldWrittenOut(BaseModel):
    field: str
    strategy: str = Field(
        description="Masking strategy (null, fixed, random, hash, encrypt, generalize), "
        "or detached, restricted, corrected"
    )
    categories: list[str]


class ExemptionOut(BaseModel):
    legal_basis: str
    retain_for: str | None


class ReceiptLineOut(BaseModel):
    collection: str
    system: str
    action: str = Field(description="delete | mask | keep | restrict | rectify | read")
    rows_found: int
    rows_masked: int
    rows_deleted: int
    rows_updated: int = Field(description="Rows restricted or rectified")
    rows_kept: int
    fields: list[FieldWrittenOut]
    exemption: ExemptionOut | None
    kept_reason: str | None
    recheck: str


class ReceiptSignatureOut(BaseModel):
    algorithm: str = Field(description="Ed25519")
    key_id: str = Field(description="First 16 hex digits of SHA-256 over the raw public key")
    public_key: str = Field(description="The signer's raw public key, base64")
    value: str = Field(
        description="Base64 signature over the RFC 8785 canonical JSON of every other member"
    )


class ReceiptOut(BaseModel):
    """A signed document: check it with `rightsflow receipt verify` and the published key
    (GET /api/v1/receipt-signing-key). Any member a client does not know is signed too."""

    format: str = Field(description="rightsflow.receipt/v1")
    issued_at: str = Field(description="When the receipt was issued (ISO 8601)")
    type: str = Field(description="The request's type (erasure)")
    regime: str
    received_at: str = Field(description="When the request was received (ISO 8601)")
    request_id: str
    status: str
    policy: str
    verified: bool
    lines: list[ReceiptLineOut]
    not_reached: list[dict[str, str]]
    signature: ReceiptSignatureOut
