"""/api/v1/consent/{subject} and /api/v1/consent/bulk-read: the current consent state.

Every other service asks this on its hot path, so the route is lean: the document is rendered
bytes straight from the cache (services/consent_read.py), answered without a response model or
a thread hop when the cache has it; only a miss goes to a worker thread to read the database.
The models below document the answer for OpenAPI; they are not run per request.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from rightsflow.api.auth import AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import api_deps
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import MAX_SUBJECT_VALUE, SubjectRef
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import consent_read

MAX_BULK = 1000
_NO_STORE = {"Cache-Control": "no-store"}
_JSON = "application/json"

router = APIRouter(
    prefix="/api/v1/consent",
    tags=["consent"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 422),
)

Subject = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_SUBJECT_VALUE + 16,
        description='"user_id:<id>", "device_id:<id>" or "email:<address>" (bare: a user id)',
    ),
]
Regime = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=r"^[a-z_]+$",
        description="The regime whose defaults apply to purposes without a choice "
        "(default: the platform's)",
    ),
]


class NoticeOut(BaseModel):
    key: str
    version: int


class PurposeOut(BaseModel):
    granted: bool
    source: str | None = Field(description="Where the choice came from; null for a default")
    notice: NoticeOut | None
    updated_at: datetime | None
    default: bool = Field(description="True: no choice was made; the regime's default applies")
    resolution: str | None = Field(description="Why the state differs from what was asked")


class GpcOut(BaseModel):
    signal: bool = Field(description="Whether the latest write carried a GPC signal")
    at: datetime


class SystemOut(BaseModel):
    system: str
    status: str = Field(description="pending | confirmed | failed")
    at: datetime


class ConsentStateOut(BaseModel):
    regime: str
    version: int = Field(description="Grows with every change of this subject's state")
    gpc: GpcOut | None
    systems: list[SystemOut] = Field(description="Systems told about an opt-out: their answer")
    purposes: dict[str, PurposeOut]


class BulkReadIn(BaseModel):
    subjects: list[Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT_VALUE + 16)]] = Field(
        min_length=1, max_length=MAX_BULK
    )
    regime: str | None = Field(default=None, max_length=16, pattern=r"^[a-z_]+$")


class BulkReadOut(BaseModel):
    regime: str
    states: dict[str, ConsentStateOut] = Field(description="By subject, as given")


def _json(body: bytes) -> Response:
    return Response(content=body, media_type=_JSON, headers=_NO_STORE)


@router.get(
    "/{subject}",
    response_class=Response,
    responses={200: {"model": ConsentStateOut, "description": "The current state"}},
)
@requires(Scope.CONSENT_READ)
async def read_consent(subject: Subject, request: Request, regime: Regime = None) -> Response:
    """The subject's current state per purpose (a subject without choices gets the defaults)."""
    platform = api_deps(request).platform  # not PlatformDep: a sync dependency is a thread hop
    ref = SubjectRef.parse(subject)
    regime = regime or platform.consent_regime
    digest = consent_read.subject_hash(platform, ref)
    # A hit (in-process, or Redis through its asyncio client) is answered on the event loop.
    return _json(await consent_read.current_async(platform, digest, regime))


@router.post(
    "/bulk-read",
    response_class=Response,
    responses={200: {"model": BulkReadOut, "description": "The states, by subject as given"}},
)
@requires(Scope.CONSENT_READ)
async def bulk_read_consent(request: Request, payload: Annotated[BulkReadIn, Body()]) -> Response:
    """Many subjects' current states (at most 1,000) in one database query."""
    platform = api_deps(request).platform
    regime = payload.regime or platform.consent_regime
    hashes: dict[str, str] = {}
    for line, text in enumerate(payload.subjects):
        try:
            hashes[text] = consent_read.subject_hash(platform, SubjectRef.parse(text))
        except InvalidInput as error:
            raise InvalidInput(f"subjects[{line}]: {error}", field=f"subjects[{line}]") from None
    states = await run_in_threadpool(
        consent_read.current_many, platform, list(set(hashes.values())), regime
    )
    members = [json.dumps(text).encode() + b":" + states[h] for text, h in hashes.items()]
    head = b'{"regime":' + json.dumps(regime).encode() + b',"states":{'
    return _json(head + b",".join(members) + b"}}")
