"""A request's own page in the privacy center: its status, the emailed code, a new code, and
the download of a finished copy.

Everything here needs the request's subject token, which the browser holds in a cookie scoped
to this request's path (set at submission). Without it, or with a wrong one, or for an id that
does not exist, the visitor gets the same page explaining to use the browser they made the
request with: nothing says whether the request exists. The calls are those of the subject's
REST routes (api/rest/subject.py, api/rest/package_links.py subject_router)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from rightsflow.api.deps import api_deps
from rightsflow.api.web.center_pages import (
    FieldError,
    errors_by_field,
    page,
    platform_of,
    request_path,
    see_other,
    subject_token_of,
)
from rightsflow.api.web.center_text import (
    DENIAL_TEXT,
    DONE_TEXT,
    NO_REASON,
    STATUS_TEXT,
    TYPE_TEXT,
    msg,
)
from rightsflow.config import Settings
from rightsflow.domain.errors import Conflict, InvalidInput, InvalidTransition, Refused
from rightsflow.domain.requests import TERMINAL, PrivacyRequest, RequestStatus
from rightsflow.domain.verification import ResendRefused
from rightsflow.services import lifecycle, package_links, requests
from rightsflow.services.lifecycle import CodeRefused

router = APIRouter()
MAX_CODE = 64


def _subject_request(request: Request, request_id: str) -> PrivacyRequest | None:
    """The request, if this browser holds its subject token; else None (whatever the reason)."""
    try:
        canonical = str(uuid.UUID(request_id))
    except ValueError:
        return None
    platform = platform_of(request)
    try:
        lifecycle.check_subject(platform, canonical, subject_token_of(request))
    except Refused:
        return None
    return requests.get(platform, canonical)


def _no_access(request: Request) -> Response:
    # 403 for every reason (no cookie, wrong token, no such request): the page says what to do.
    return page(request, "no_access.html", status_code=403)


def _status_page(
    request: Request, found: PrivacyRequest, errors: list[FieldError], status_code: int = 200
) -> Response:
    done = DONE_TEXT.get(request.query_params.get("done", ""))
    denial = None
    if found.status is RequestStatus.DENIED:
        denial = DENIAL_TEXT.get(found.denial_reason or "", NO_REASON)
    return page(
        request,
        "status.html",
        {
            "req": found,
            "path": request_path(found.id),
            "type_text": TYPE_TEXT[found.type],
            "status_text": STATUS_TEXT[found.status],
            "open": found.status not in TERMINAL,
            "awaiting_code": found.status is RequestStatus.AWAITING_VERIFICATION,
            "downloadable": found.status is RequestStatus.COMPLETED and found.type.reads_only,
            "denial": denial,
            "done": done,
            "errors": errors,
            "error_for": errors_by_field(errors),
        },
        status_code=status_code,
    )


@router.get("/requests/{request_id}")
async def status(request: Request, request_id: str) -> Response:
    found = await asyncio.to_thread(_subject_request, request, request_id)
    if found is None:
        return _no_access(request)
    return _status_page(request, found, [])


def _code_error(exc: InvalidInput | Conflict) -> FieldError:
    if isinstance(exc, Conflict):  # locked (InvalidTransition is handled before)
        return FieldError(
            "code",
            msg(
                "Too many wrong codes: confirmation is locked. Our privacy team can unlock it "
                "or check your identity another way."
            ),
        )
    if isinstance(exc, CodeRefused) and exc.expired:
        return FieldError("code", msg("This code has expired. Ask for a new one below."))
    if isinstance(exc, CodeRefused) and exc.attempts_left == 1:
        return FieldError("code", msg("That code is not right. You have 1 attempt left."))
    return FieldError("code", msg("That code is not right. Check the email and try again."))


@router.post("/requests/{request_id}/code")
async def enter_code(request: Request, request_id: str) -> Response:
    found = await asyncio.to_thread(_subject_request, request, request_id)
    if found is None:
        return _no_access(request)
    form = await request.form()
    code = form.get("code")
    code = code.strip()[:MAX_CODE] if isinstance(code, str) else ""
    if not code:
        return _status_page(
            request, found, [FieldError("code", msg("Enter the code from the email."))], 422
        )
    deps = api_deps(request)
    try:
        await lifecycle.submit_code(deps.platform, deps.workflows, found.id, code)
    except InvalidTransition:
        return see_other(request_path(found.id))  # already verified (or closed): show it
    except (InvalidInput, Conflict) as exc:
        fresh = await asyncio.to_thread(requests.get, deps.platform, found.id)
        return _status_page(request, fresh, [_code_error(exc)], 422)
    return see_other(f"{request_path(found.id)}?done=verified")


@router.post("/requests/{request_id}/code/resend")
async def resend_code(request: Request, request_id: str) -> Response:
    found = await asyncio.to_thread(_subject_request, request, request_id)
    if found is None:
        return _no_access(request)
    platform = platform_of(request)
    try:
        await asyncio.to_thread(lifecycle.resend_code, platform, found.id)
    except InvalidTransition:
        return see_other(request_path(found.id))
    except ResendRefused as exc:
        text = (
            msg("Please wait a little before asking for another code.")
            if exc.retry_after is not None
            else msg("No more codes can be sent for this request. Please contact us.")
        )
        return _status_page(request, found, [FieldError("code", text)], 429)
    return see_other(f"{request_path(found.id)}?done=resent")


@router.post("/requests/{request_id}/download")
async def download(request: Request, request_id: str) -> Response:
    """A signed link to the package, minted as the subject's REST route does; the browser
    follows it to the existing download route."""
    found = await asyncio.to_thread(_subject_request, request, request_id)
    if found is None:
        return _no_access(request)
    settings = request.app.state.settings
    minutes = settings.package_link_ttl_minutes if isinstance(settings, Settings) else 60
    try:
        link = await asyncio.to_thread(
            package_links.issue,
            platform_of(request),
            found.id,
            "subject",
            timedelta(minutes=minutes),
        )
    except Conflict:
        return see_other(request_path(found.id))  # not ready: the status page says so
    return see_other(link.path)
