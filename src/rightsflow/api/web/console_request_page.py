"""Rendering the console's request page, shared by the page route and the actions (which show
it again, 422, with the message next to the field when a form's value is refused)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from rightsflow.api.deps import api_deps
from rightsflow.api.web.console_auth import Operator
from rightsflow.api.web.console_request_queue import due_of
from rightsflow.api.web.console_request_view import DENY_REASONS, phase_text, request_view
from rightsflow.api.web.pages import render


@dataclass(frozen=True)
class FormError:
    action: str  # the form: deny | extend
    field: str  # reason | period
    message: str  # the service's message (written without personal data)


async def request_page(
    request: Request,
    operator: Operator,
    request_id: str,
    *,
    notice: str | None = None,
    form_error: FormError | None = None,
) -> Response:
    platform = api_deps(request).platform
    view = await asyncio.to_thread(request_view, platform, operator, request_id)
    context = {
        "operator": operator,
        "section": "requests",
        "view": view,
        "r": view.request,
        "notice": notice,
        "form_error": form_error,
        "deny_reasons": DENY_REASONS,
        "phase_text": phase_text,
        "due": due_of(view.request, platform.clock()),
    }
    status = 200 if form_error is None else 422
    return render(request, "console/request.html", context, status_code=status)
