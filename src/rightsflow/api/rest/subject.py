"""/api/v1/subject/requests/{id}: what the person who made a request can do with it, holding
the subject token they were given at submission (`Subject-Token` header): see its status,
enter the emailed code, ask for a new code, withdraw it. A wrong token is a 401, checked
before anything else is read, the body included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader

from rightsflow.api.deps import PlatformDep, WorkflowsDep, api_deps
from rightsflow.api.problems import problem_responses
from rightsflow.api.rest.decisions import CodeSent
from rightsflow.api.rest.privacy_requests import RequestId
from rightsflow.api.rest.schemas import CodeBody, RequestSummary
from rightsflow.services import lifecycle, requests

subject_scheme = APIKeyHeader(
    name="Subject-Token",
    auto_error=False,
    scheme_name="subjectToken",
    description="The subject token from the submission's answer.",
)


class SubjectTokenRoute(APIRoute):
    """Checks the subject token before the body is parsed, so a caller without it learns
    nothing from validation errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            request_id = str(request.path_params.get("request_id", ""))
            token = request.headers.get("subject-token", "")
            lifecycle.check_subject(api_deps(request).platform, request_id, token)
            return await handler(request)

        return checked


router = APIRouter(
    prefix="/api/v1/subject/requests",
    tags=["subject"],
    route_class=SubjectTokenRoute,
    dependencies=[Security(subject_scheme)],
    responses=problem_responses(401, 404, 409, 422),
)


@router.get("/{request_id}", summary="The request's status and deadline")
def status(platform: PlatformDep, request_id: RequestId) -> RequestSummary:
    return RequestSummary.of(requests.get(platform, request_id))


@router.post("/{request_id}/code", summary="Enter the emailed verification code")
async def enter_code(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId, body: CodeBody
) -> RequestSummary:
    done = await lifecycle.submit_code(platform, workflows, request_id, body.code)
    return RequestSummary.of(done)


@router.post("/{request_id}/code/resend", summary="Send a new code (with back-off)")
async def resend_code(platform: PlatformDep, request_id: RequestId) -> CodeSent:
    expires = await asyncio.to_thread(lifecycle.resend_code, platform, request_id)
    return CodeSent(expires_at=expires)


@router.post("/{request_id}/withdraw", summary="Withdraw (cancel) the request")
async def withdraw(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId
) -> RequestSummary:
    return RequestSummary.of(await requests.cancel(platform, workflows, request_id, "subject"))
