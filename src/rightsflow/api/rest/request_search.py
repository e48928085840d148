"""POST /api/v1/privacy-requests/search: the requests a person made, found by a keyed hash of
one identity (services/identity_lookup.py). A POST, so the identity travels in the body and never
in a URL that proxies and access logs keep."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Security
from pydantic import BaseModel, ConfigDict, Field

from rightsflow.api.auth import AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.api.rest.schemas import RequestSummary
from rightsflow.domain.access import Scope
from rightsflow.services import identity_lookup

router = APIRouter(
    prefix="/api/v1/privacy-requests",
    tags=["privacy requests"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 422),
)


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="The identity type: email, phone_number, user_id, ...",
        examples=["email"],
    )
    value: str = Field(min_length=1, max_length=512, description="Normalised before hashing")
    limit: int = Field(default=100, ge=1, le=identity_lookup.MAX_RESULTS)


class SearchResult(BaseModel):
    items: list[RequestSummary] = Field(description="Oldest first")


@router.post("/search", summary="Find the requests made with one identity (by its keyed hash)")
@requires(Scope.REQUESTS_READ)
async def search_privacy_requests(platform: PlatformDep, body: SearchBody) -> SearchResult:
    found = await asyncio.to_thread(
        identity_lookup.requests_for_identity, platform, body.kind, body.value, body.limit
    )
    return SearchResult(items=[RequestSummary.of(r) for r in found])
