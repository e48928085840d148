"""The console's requests: the queue (`/console/`), the search by a subject's identity, and a
request's page (`/console/requests/{id}`) with the actions of console_request_actions.py.

Pages call the services the REST routes call, with the same scopes (requests:read to look).
The search is a form post: the identity travels in the body, never in a URL that proxies and
access logs keep, and it goes through the keyed hash (services/identity_lookup.py), never a
scan. No page shows an identity value (the REST request GET shows none either).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from rightsflow.api.choices import request_id_of
from rightsflow.api.deps import api_deps
from rightsflow.api.web import console_request_actions, console_request_tasks
from rightsflow.api.web.console_auth import Operator, OperatorDep, PostingOperatorDep
from rightsflow.api.web.console_request_actions import DONE
from rightsflow.api.web.console_request_page import request_page
from rightsflow.api.web.console_request_queue import (
    DUE_CHOICES,
    REGIME_KEYS,
    STATUSES,
    TYPES,
    QueueFilters,
    QueuePage,
    ordered,
    paged,
    queue_page,
)
from rightsflow.api.web.pages import render
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import identity_lookup

router = APIRouter()
router.include_router(console_request_actions.router)
router.include_router(console_request_tasks.router)

SEARCH_KINDS = (("email", "Email address"), ("user_id", "User id"))
_Choice = Annotated[str, Query(max_length=64)]


def _queue(
    request: Request,
    operator: Operator,
    filters: QueueFilters,
    page: QueuePage,
    *,
    searched: str | None = None,
    search_error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "operator": operator,
        "section": "requests",
        "filters": filters,
        "page": page,
        "statuses": STATUSES,
        "types": TYPES,
        "regimes": REGIME_KEYS,
        "due_choices": DUE_CHOICES,
        "search_kinds": SEARCH_KINDS,
        "searched": searched,  # the kind searched by (never the value)
        "search_error": search_error,
    }
    return render(request, "console/queue.html", context, status_code=status_code)


@router.get("/")
async def queue(
    *,
    request: Request,
    operator: OperatorDep,
    status: _Choice = "",
    type: _Choice = "",
    regime: _Choice = "",
    due: _Choice = "all",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    operator.require(Scope.REQUESTS_READ)
    filters = QueueFilters(status=status, type=type, regime=regime, due=due or "all")
    platform = api_deps(request).platform
    shown = await asyncio.to_thread(queue_page, platform, filters, page)
    return _queue(request, operator, filters, shown)


@router.post("/search")
async def search(
    request: Request,
    operator: PostingOperatorDep,
    kind: Annotated[str, Form(max_length=64)] = "email",
    value: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    operator.require(Scope.REQUESTS_READ)
    platform = api_deps(request).platform
    if kind not in dict(SEARCH_KINDS):
        kind = "email"
    try:
        found = await asyncio.to_thread(
            identity_lookup.requests_for_identity, platform, kind, value
        )
    except InvalidInput:
        # Normalising refused the value: say so without echoing it.
        empty = paged([], 1)
        error = "Enter a valid email address or user id to search for."
        return _queue(request, operator, QueueFilters(), empty, search_error=error, status_code=422)
    rows = paged(ordered(found, platform.clock()), 1)
    return _queue(request, operator, QueueFilters(), rows, searched=dict(SEARCH_KINDS)[kind])


@router.get("/requests/{request_id}")
async def show_request(
    request: Request,
    request_id: str,
    operator: OperatorDep,
    done: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    operator.require(Scope.REQUESTS_READ)
    return await request_page(request, operator, request_id_of(request_id), notice=DONE.get(done))
