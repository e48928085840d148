"""/api/v1/audit: the hash-chained audit trail, filtered, paged and exported.

Oldest first (ascending event id), the order the chain is built and checked in: a page never
shifts while new events are appended, and `next_cursor` walks on to the newest. The export
streams the same events as JSON lines (`application/x-ndjson`). Events carry ids, codes and
counts only, never personal data.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Security
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rightsflow.api.auth import AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import audit_log

NDJSON = "application/x-ndjson"
_CURSOR_PREFIX = "audit:"

router = APIRouter(
    prefix="/api/v1/audit",
    tags=["audit"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 422),
)

_TIME = "ISO-8601 with a timezone, e.g. 2026-03-01T12:00:00Z"
RequestIdQ = Annotated[str | None, Query(max_length=36, description="Only this request's events")]
ActorQ = Annotated[
    str | None,
    Query(max_length=128, description="system | subject | operator:<name> | agent:<id> | ..."),
]
ActionQ = Annotated[str | None, Query(max_length=64, description="e.g. request.status_changed")]
_DATE_TIME: dict[str, Any] = {"format": "date-time"}  # checked by audit_log.parse_time
SinceQ = Annotated[
    str | None,
    Query(max_length=64, description=f"at >= since; {_TIME}", json_schema_extra=_DATE_TIME),
]
UntilQ = Annotated[
    str | None,
    Query(max_length=64, description=f"at < until; {_TIME}", json_schema_extra=_DATE_TIME),
]


class AuditEntryOut(BaseModel):
    id: int
    request_id: str
    action: str
    at: str = Field(
        description="ISO-8601 UTC with microseconds, exactly as the hash covers it",
        json_schema_extra={"format": "date-time"},
    )
    actor: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]
    prev_hash: str | None = Field(description="The previous event's hash (null: before 0004)")
    hash: str | None = Field(description="sha256 hex of this event's canonical JSON")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


def encode_cursor(event_id: int) -> str:
    raw = f"{_CURSOR_PREFIX}{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raises InvalidInput(field="cursor") for anything `encode_cursor` did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:  # bad base64 and bad UTF-8 are ValueErrors too
        raw = ""
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not digits.isascii() or not digits.isdigit():
        raise InvalidInput("not a cursor returned by this API", field="cursor")
    return int(digits)


@router.get("", summary="Audit events, oldest first, with their hashes")
@requires(Scope.AUDIT_READ)
def list_audit_events(
    *,
    platform: PlatformDep,
    request_id: RequestIdQ = None,
    actor: ActorQ = None,
    action: ActionQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor")] = None,
) -> AuditPage:
    filters = audit_log.filter_from(request_id, actor, action, since, until)
    after = decode_cursor(cursor) if cursor is not None else None
    found = list(audit_log.page(platform.uow, filters, after, limit + 1))
    items = found[:limit]
    more = len(found) > limit
    return AuditPage(
        items=[AuditEntryOut.model_validate(audit_log.as_json(e)) for e in items],
        next_cursor=encode_cursor(items[-1].id) if more else None,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="Every matching audit event as JSON lines, oldest first",
    responses={200: {"content": {NDJSON: {}}, "description": "One event per line"}},
)
@requires(Scope.AUDIT_READ)
def export_audit_events(
    *,
    platform: PlatformDep,
    request_id: RequestIdQ = None,
    actor: ActorQ = None,
    action: ActionQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
) -> StreamingResponse:
    # Filters are checked here, before the response starts, so a bad one is still a 422.
    filters = audit_log.filter_from(request_id, actor, action, since, until)
    lines = audit_log.json_lines(audit_log.events(platform.uow, filters))
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type=NDJSON,
        headers={"Cache-Control": "no-store"},
    )
