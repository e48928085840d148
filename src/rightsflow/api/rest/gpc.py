"""/.well-known/gpc.json: this site honours Global Privacy Control.

The GPC specification (https://privacycg.github.io/gpc-spec/, "The GPC support resource") asks
for a JSON object whose `gpc` member is true when the site intends to honour the signal, and
an optional `lastUpdate` (an RFC 3339 full-date) saying when that representation last changed.
Public (a browser or a crawler fetches it without credentials) and cacheable; what is honoured
where (CCPA, Colorado, Connecticut bind it) is in docs/consent_catalog.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from rightsflow.config import Settings

PATH = "/.well-known/gpc.json"
MAX_AGE_S = 86_400  # a day: the file changes when GPC handling changes, which is rare

router = APIRouter(tags=["consent"])


@router.get(
    PATH,
    response_class=JSONResponse,
    summary="Global Privacy Control support resource",
    responses={
        200: {
            "description": "GPC is honoured",
            "content": {"application/json": {"example": {"gpc": True, "lastUpdate": "2026-11-25"}}},
        }
    },
)
def gpc_support(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    return JSONResponse(
        {"gpc": True, "lastUpdate": settings.gpc_last_update.isoformat()},
        headers={"Cache-Control": f"public, max-age={MAX_AGE_S}"},
    )
