"""/api/v1/subject/requests/{id}: what the person who made a request can do with it, holding
the subject token they were given at submission (`Subject-Token` header): see its status,
enter the emailed code, ask for a new code, withdraw it. A wrong token is a 401, checked
before anything else is read."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header

from rightsflow.api.deps import PlatformDep, WorkflowsDep
from rightsflow.api.problems import problem_responses
from rightsflow.api.rest.decisions import CodeSent
from rightsflow.api.rest.privacy_requests import RequestId
from rightsflow.api.rest.schemas import CodeBody, RequestSummary
from rightsflow.services import lifecycle, requests
from rightsflow.services.platform import Platform

router = APIRouter(
    prefix="/api/v1/subject/requests",
    tags=["subject"],
    responses=problem_responses(401, 404, 409, 422),
)
SubjectToken = Annotated[
    str, Header(alias="Subject-Token", max_length=128, description="From the submission")
]


def _checked(platform: Platform, request_id: str, token: str) -> None:
    lifecycle.check_subject(platform, request_id, token)


@router.get("/{request_id}", summary="The request's status and deadline")
def status(platform: PlatformDep, request_id: RequestId, token: SubjectToken) -> RequestSummary:
    _checked(platform, request_id, token)
    return RequestSummary.of(requests.detail(platform, request_id).request)


@router.post("/{request_id}/code", summary="Enter the emailed verification code")
async def enter_code(
    platform: PlatformDep,
    workflows: WorkflowsDep,
    request_id: RequestId,
    token: SubjectToken,
    body: CodeBody,
) -> RequestSummary:
    _checked(platform, request_id, token)
    done = await lifecycle.submit_code(platform, workflows, request_id, body.code)
    return RequestSummary.of(done)


@router.post("/{request_id}/code/resend", summary="Send a new code (with back-off)")
async def resend_code(
    platform: PlatformDep, request_id: RequestId, token: SubjectToken
) -> CodeSent:
    _checked(platform, request_id, token)
    return CodeSent(expires_at=await asyncio.to_thread(lifecycle.resend_code, platform, request_id))


@router.post("/{request_id}/withdraw", summary="Withdraw (cancel) the request")
async def withdraw(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId, token: SubjectToken
) -> RequestSummary:
    _checked(platform, request_id, token)
    return RequestSummary.of(await requests.cancel(platform, workflows, request_id, "subject"))
