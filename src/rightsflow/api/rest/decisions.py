"""Operator decisions on a privacy request: verify by hand, approve, deny, extend, and the
verification code's resend and unlock. Each refusal is a problem naming the current state."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Security
from pydantic import BaseModel

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep, WorkflowsDep
from rightsflow.api.problems import problem_responses
from rightsflow.api.rest.privacy_requests import RequestId
from rightsflow.api.rest.schemas import DenyBody, ExtendBody, RequestSummary
from rightsflow.domain.access import Scope
from rightsflow.services import lifecycle

router = APIRouter(
    prefix="/api/v1/privacy-requests",
    tags=["decisions"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 404, 409, 422),
)


class CodeSent(BaseModel):
    expires_at: datetime


@router.post("/{request_id}/approve", summary="Approve a request awaiting approval")
@requires(Scope.REQUESTS_APPROVE)
async def approve(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId, actor: ActorDep
) -> RequestSummary:
    return RequestSummary.of(await lifecycle.approve(platform, workflows, request_id, actor))


@router.post("/{request_id}/deny", summary="Deny a request, with a reason from the fixed list")
@requires(Scope.REQUESTS_APPROVE)
async def deny(
    platform: PlatformDep,
    workflows: WorkflowsDep,
    request_id: RequestId,
    body: DenyBody,
    actor: ActorDep,
) -> RequestSummary:
    denied = await lifecycle.deny(platform, workflows, request_id, actor, body.reason)
    return RequestSummary.of(denied)


@router.post(
    "/{request_id}/extend",
    summary="Extend the deadline as far as the regime allows (once, before it passes); "
    "the subject is told why",
)
@requires(Scope.REQUESTS_APPROVE)
async def extend(
    platform: PlatformDep,
    workflows: WorkflowsDep,
    request_id: RequestId,
    body: ExtendBody,
    actor: ActorDep,
) -> RequestSummary:
    extended = await lifecycle.extend(
        platform, workflows, request_id, actor=actor, reason=body.reason, period=body.period
    )
    return RequestSummary.of(extended)


@router.post(
    "/{request_id}/verify",
    summary="Mark the subject's identity verified by other means (also lifts a lockout)",
)
@requires(Scope.REQUESTS_APPROVE)
async def verify(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId, actor: ActorDep
) -> RequestSummary:
    return RequestSummary.of(
        await lifecycle.verify_manually(platform, workflows, request_id, actor)
    )


@router.post("/{request_id}/verification/resend", summary="Mail the subject a new code")
@requires(Scope.REQUESTS_APPROVE)
async def resend(platform: PlatformDep, request_id: RequestId, actor: ActorDep) -> CodeSent:
    expires = await asyncio.to_thread(lifecycle.resend_code, platform, request_id, actor)
    return CodeSent(expires_at=expires)


@router.post(
    "/{request_id}/verification/unlock",
    summary="Lift a lockout after too many wrong codes (a new code must then be sent)",
)
@requires(Scope.REQUESTS_APPROVE)
async def unlock(platform: PlatformDep, request_id: RequestId, actor: ActorDep) -> RequestSummary:
    return RequestSummary.of(await asyncio.to_thread(lifecycle.unlock, platform, request_id, actor))
