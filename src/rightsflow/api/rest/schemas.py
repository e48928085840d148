"""Request and response bodies of the privacy-request API. Identities go in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rightsflow.domain.requests import PrivacyRequest


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

    type: str = Field(description="access | erasure | rectification | restriction | portability")
    identities: dict[str, str] = Field(description="Identity type -> value, e.g. email")
    regime: str = Field(description="Legal regime, e.g. gdpr, ccpa")
    policy: str | None = Field(default=None, description="Policy key; default per type")
    corrections: dict[str, str | int | float | bool | None] | None = Field(
        default=None,
        description="Rectification only: field address (dataset:collection.field) -> new value",
        examples=[{"shop:customers.name": "Ada Lovelace"}],
    )


class RequestSummary(BaseModel):
    id: str
    status: str
    type: str
    regime: str
    received_at: datetime
    due_at: datetime

    @classmethod
    def of(cls, request: PrivacyRequest) -> RequestSummary:
        return cls(
            id=request.id,
            status=request.status.value,
            type=request.type.value,
            regime=request.regime,
            received_at=request.received_at,
            due_at=request.due_at,
        )


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
