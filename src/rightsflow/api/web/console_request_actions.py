"""The request page's actions: small form posts calling the same services as the REST routes
(api/rest/decisions.py, privacy_requests.py), with the same scopes. Each answers 303 back to the
request page with `?done=<action>`, which the page maps to fixed text (never the input)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from rightsflow.api.choices import request_id_of
from rightsflow.api.deps import api_deps
from rightsflow.api.web.console_auth import Operator, PostingOperatorDep
from rightsflow.api.web.console_request_page import FormError, request_page
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import lifecycle, requests
from rightsflow.services.lifecycle import MAX_REASON
from rightsflow.services.platform import Platform
from rightsflow.services.ports import WorkflowStarter

# A service step taking only the request and the acting operator (verify, approve, retry).
Step = Callable[[Platform, WorkflowStarter, str, str], Awaitable[object]]

router = APIRouter()

DONE = {
    "verified": "The subject's identity is marked verified.",
    "approved": "The request is approved; its workflow was told.",
    "denied": "The request is denied; the subject is told the reason.",
    "extended": "The deadline is extended; the subject is told why.",
    "retried": "The request runs again from where it failed.",
    "attested": "The task is attested on its assignee's behalf; the workflow was told.",
}


def _back(request_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/console/requests/{request_id}?done={done}", status_code=303)


async def _refused(
    request: Request, operator: Operator, rid: str, action: str, error: InvalidInput
) -> Response:
    """The page again (422), the service's message next to the field it names."""
    form_error = FormError(action, error.field or "reason", str(error))
    return await request_page(request, operator, rid, form_error=form_error)


def _checked(operator: Operator, scope: Scope, raw_id: str) -> str:
    operator.require(scope)
    return request_id_of(raw_id)


async def _step(
    request: Request,
    operator: Operator,
    raw_id: str,
    step: Step,
    done: str,
    *,
    scope: Scope = Scope.REQUESTS_APPROVE,
) -> RedirectResponse:
    """Check the scope (requests:approve unless given) and the id, run the step as the operator,
    back to the page with `done`."""
    rid = _checked(operator, scope, raw_id)
    deps = api_deps(request)
    await step(deps.platform, deps.workflows, rid, operator.actor)
    return _back(rid, done)


@router.post("/requests/{request_id}/verify")
async def verify(
    request: Request, request_id: str, operator: PostingOperatorDep
) -> RedirectResponse:
    return await _step(request, operator, request_id, lifecycle.verify_manually, "verified")


@router.post("/requests/{request_id}/approve")
async def approve(
    request: Request, request_id: str, operator: PostingOperatorDep
) -> RedirectResponse:
    return await _step(request, operator, request_id, lifecycle.approve, "approved")


@router.post("/requests/{request_id}/deny")
async def deny(
    request: Request,
    request_id: str,
    operator: PostingOperatorDep,
    reason: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    rid = _checked(operator, Scope.REQUESTS_APPROVE, request_id)
    deps = api_deps(request)
    try:  # DenialReason.parse refuses anything off the fixed list
        await lifecycle.deny(deps.platform, deps.workflows, rid, operator.actor, reason)
    except InvalidInput as refused:
        return await _refused(request, operator, rid, "deny", refused)
    return _back(rid, "denied")


@router.post("/requests/{request_id}/extend")
async def extend(
    request: Request,
    request_id: str,
    operator: PostingOperatorDep,
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    period: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    rid = _checked(operator, Scope.REQUESTS_APPROVE, request_id)
    deps = api_deps(request)
    try:
        await lifecycle.extend(
            deps.platform,
            deps.workflows,
            rid,
            actor=operator.actor,
            reason=reason,
            period=period.strip() or None,
        )
    except InvalidInput as refused:
        return await _refused(request, operator, rid, "extend", refused)
    return _back(rid, "extended")


@router.post("/requests/{request_id}/retry")
async def retry(
    request: Request, request_id: str, operator: PostingOperatorDep
) -> RedirectResponse:
    return await _step(
        request, operator, request_id, requests.retry, "retried", scope=Scope.REQUESTS_WRITE
    )
