"""Signed package links: an operator (`packages:read`) or the subject (their Subject-Token) asks
for a link to a completed access request's package; whoever holds the link downloads it with
no other credential until it expires (`package_link_ttl_minutes`).

`GET /api/v1/packages/{request_id}?expires=...&sig=...` streams the package exactly as the
operators' download does, audited per download (actor `package-link`, no IP address). A link
that was altered, made for another request or is malformed is a 403 (`link-invalid`); a
genuine link past its expiry is a 410 Gone (`link-expired`: it existed, and will not again).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, Security
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem, problem_responses
from rightsflow.api.rest.privacy_requests import RequestId
from rightsflow.api.rest.subject import SubjectTokenRoute, subject_scheme
from rightsflow.config import Settings
from rightsflow.domain.access import Scope
from rightsflow.services import package_links
from rightsflow.services.package_links import LinkExpired, LinkInvalid
from rightsflow.services.platform import Platform

# Neither the link nor the package should outlive the download in a cache or a Referer.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class PackageLinkOut(BaseModel):
    url: str = Field(description="Downloads the package without other credentials; keep it safe")
    expires_at: datetime


operator_router = APIRouter(
    prefix="/api/v1/privacy-requests",
    tags=["privacy requests"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 404, 409, 422),
)
subject_router = APIRouter(
    prefix="/api/v1/subject/requests",
    tags=["subject"],
    route_class=SubjectTokenRoute,
    dependencies=[Security(subject_scheme)],
    responses=problem_responses(401, 404, 409, 422),
)
download_router = APIRouter(prefix="/api/v1/packages", tags=["packages"])


async def _link(request: Request, platform: Platform, request_id: str, actor: str) -> Response:
    settings = request.app.state.settings
    ttl = timedelta(
        minutes=settings.package_link_ttl_minutes if isinstance(settings, Settings) else 60
    )
    link = await asyncio.to_thread(package_links.issue, platform, request_id, actor, ttl)
    out = PackageLinkOut(url=f"{platform.public_url}{link.path}", expires_at=link.expires_at)
    return Response(out.model_dump_json(), media_type="application/json", headers=_PRIVATE)


@operator_router.post(
    "/{request_id}/package-link",
    summary="A signed link to the package, valid for package_link_ttl_minutes; audited",
    response_model=PackageLinkOut,
)
@requires(Scope.PACKAGES_READ)
async def operator_link(
    request: Request, platform: PlatformDep, request_id: RequestId, actor: ActorDep
) -> Response:
    return await _link(request, platform, request_id, actor)


@subject_router.post(
    "/{request_id}/package-link",
    summary="A signed link to your package (access and portability requests, once completed)",
    response_model=PackageLinkOut,
)
async def subject_link(request: Request, platform: PlatformDep, request_id: RequestId) -> Response:
    return await _link(request, platform, request_id, "subject")


@download_router.get(
    "/{request_id}",
    response_class=StreamingResponse,
    summary="Download a package through a signed link (no other credential)",
    responses={
        200: {"content": {"application/zip": {}}, "description": "The package"},
        **problem_responses(403, 404, 409, 410, 422),
    },
)
def download_by_link(
    request: Request,
    platform: PlatformDep,
    request_id: Annotated[str, Path(description="The request the link was made for")],
    expires: Annotated[str, Query(description="Expiry, unix seconds (signed)")] = "",
    sig: Annotated[str, Query(description="The link's signature")] = "",
) -> Response:
    try:
        chunks = package_links.open_by_link(platform, request_id, expires, sig)
    except LinkInvalid as exc:
        return problem(request, 403, exc.code, str(exc), headers=_PRIVATE)
    except LinkExpired as exc:
        return problem(request, 410, exc.code, str(exc), headers=_PRIVATE)
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="rightsflow-{request_id}.zip"',
            **_PRIVATE,
        },
    )
