"""GET /api/v1/consent/records/{record_id}/deliveries: which systems were told about a consent
record (an opt-out or a withdrawal), how each answered, and the record's signed receipt.
POST .../deliveries/retry: tell the failed systems again (a new run for only them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Security
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import Conflict
from rightsflow.services import consent_propagation

router = APIRouter(
    prefix="/api/v1/consent/records",
    tags=["consent"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 404, 422),
)

SystemKey = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
RecordId = Annotated[
    str, Path(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9-]+$", description="Record id")
]


class DeliveryOut(BaseModel):
    system: str
    status: str = Field(description="pending | confirmed | failed")
    attempts: int
    reference: str | None = Field(description="The system's own id for what it did, if any")
    failure: str | None = Field(description="Why it failed (no personal data)")
    updated_at: datetime


class DeliveriesOut(BaseModel):
    record_id: str
    deliveries: list[DeliveryOut] = Field(description="One per system told, by system")
    receipt: dict[str, Any] | None = Field(
        description="Signed by the platform (key: GET /api/v1/receipt-signing-key) once "
        "propagation ended"
    )


@router.get("/{record_id}/deliveries", response_model=DeliveriesOut)
@requires(Scope.CONSENT_READ)
async def record_deliveries(record_id: RecordId, platform: PlatformDep) -> DeliveriesOut:
    """The systems told about the record; 404 for an unknown record."""
    deliveries, receipt = await run_in_threadpool(
        consent_propagation.deliveries_of, platform, record_id
    )
    return DeliveriesOut(
        record_id=record_id,
        deliveries=[
            DeliveryOut(
                system=d.system,
                status=d.status,
                attempts=d.attempts,
                reference=d.reference,
                failure=d.failure,
                updated_at=d.updated_at,
            )
            for d in deliveries
        ],
        receipt=receipt,
    )


class RetryIn(BaseModel):
    systems: list[SystemKey] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The failed systems to tell again (default: every failed one)",
    )


class RetryOut(BaseModel):
    record_id: str
    systems: list[str] = Field(description="Reset to pending, told again by a new run")
    run: int = Field(description="The record's retry number (its workflow: consent-<id>-retry-<n>)")


@router.post(
    "/{record_id}/deliveries/retry",
    response_model=RetryOut,
    status_code=202,
    responses=problem_responses(409),
)
@requires(Scope.CONSENT_WRITE)
async def retry_deliveries(
    record_id: RecordId,
    platform: PlatformDep,
    actor: ActorDep,
    body: Annotated[RetryIn | None, Body()] = None,
) -> RetryOut:
    """Tell the record's failed systems again; 404 unknown record, 409 when none failed (or
    propagation is off here), 422 for a system not told about the record."""
    propagator = platform.consent_propagator
    if propagator is None:
        raise Conflict("consent propagation is not configured here")
    systems, run = await run_in_threadpool(
        consent_propagation.retry, platform, record_id, (body or RetryIn()).systems, actor
    )
    await propagator.retry(record_id, run, systems)
    return RetryOut(record_id=record_id, systems=systems, run=run)
