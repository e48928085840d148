"""DRP 1.0 routes, at the protocol's own paths (not under /api/v1) and in its own error format:
`{"code": "403", "message": "...", "fatal": true}` (section 3.06), never problem+json.

Signed bodies are base64 text (`Content-Type: text/plain`), read raw. The pair-wise bearer
token (from `POST /v1/agent/{agent-id}`) is the only credential; the admin token means nothing
here. A failed pairing is a bare 403, as the spec asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from rightsflow.api.deps import WorkflowsDep
from rightsflow.config import Settings
from rightsflow.connectors.ssrf import DRP_HINT, guarded_transport
from rightsflow.domain.drp import DrpRefused
from rightsflow.domain.errors import Conflict, InvalidInput, NotFound, RightsflowError
from rightsflow.services import drp as service
from rightsflow.services.drp_directory import AgentDirectory, Fetch
from rightsflow.services.platform import Platform
from rightsflow.storage.drp_directory import file_source, url_source

log = structlog.get_logger("rightsflow.drp")
_TEXT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string", "format": "base64"}}},
        "description": "base64(Ed25519 signature + JSON), libsodium combined mode",
    }
}


class DrpError(BaseModel):
    """The spec's error object (section 3.06), for the OpenAPI document."""

    code: str = Field(examples=["403"])
    message: str
    fatal: bool | None = None


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": DrpError, "description": HTTPStatus(s).phrase} for s in statuses}


def _error(status: int, message: str, fatal: bool = False) -> JSONResponse:
    body: dict[str, Any] = {"code": str(status), "message": message}
    if fatal:
        body["fatal"] = True
    return JSONResponse(body, status_code=status)


def _answer_error(exc: RightsflowError) -> JSONResponse:
    if isinstance(exc, DrpRefused):
        return JSONResponse(exc.body, status_code=exc.status)
    if isinstance(exc, NotFound):
        return _error(404, "No such data rights request.")
    if isinstance(exc, Conflict):
        return _error(409, str(exc))
    if isinstance(exc, InvalidInput):
        return _error(400, str(exc))
    log.error("drp_failed", error_type=type(exc).__name__, code=exc.code)
    return _error(503, "The request could not be processed now; try again later.")


class DrpRoute(APIRoute):
    """Domain errors as DRP error objects instead of the app's problem documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RightsflowError as exc:
                return _answer_error(exc)

        return answer


def agents_source(
    path: Path | None, url: str | None, *, allow_private_network: bool
) -> Fetch | None:
    """Reads agents.json from the file, else from the URL through the SSRF guard; None: neither."""
    if path is not None:
        return file_source(path)
    if url is not None:
        guard = guarded_transport(allow_private=allow_private_network, hint=DRP_HINT)
        return url_source(url, transport=guard)
    return None


def build_drp(settings: Settings, platform: Platform) -> service.Drp | None:
    """The DRP wiring, or None while no business id or agents directory is configured."""
    if settings.drp_business_id is None:
        return None
    fetch = agents_source(
        settings.drp_agents_file,
        settings.drp_agents_url,
        allow_private_network=settings.drp_allow_private_network,
    )
    if fetch is None:
        return None
    config = service.DrpConfig(
        business_id=settings.drp_business_id,
        voluntary_regime=settings.drp_voluntary_regime,
        allow_http_callbacks=settings.drp_allow_http_callbacks,
    )
    directory = AgentDirectory(fetch, platform.clock, settings.drp_agents_refresh_s)
    return service.Drp(platform, config, directory)


def install(app: FastAPI, settings: Settings, platform: Platform) -> None:
    """Mount the DRP routes. Nothing is fetched yet: the directory loads on first use."""
    app.state.drp = build_drp(settings, platform)
    app.include_router(router)


class NotEnabled(NotFound):
    """DRP is not configured on this deployment."""


def _drp(request: Request) -> service.Drp:
    found = getattr(request.app.state, "drp", None)
    if not isinstance(found, service.Drp):
        raise NotEnabled("the Data Rights Protocol is not enabled here")
    return found


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


DrpDep = Annotated[service.Drp, Depends(_drp)]
TokenDep = Annotated[str | None, Depends(_bearer)]
router = APIRouter(
    route_class=DrpRoute,
    tags=["Data Rights Protocol 1.0"],
    # 404 while DRP is off and for unknown requests; 503 when a store fails (_answer_error).
    responses=_documented(400, 403, 404, 409, 503),
)


@router.post(
    "/v1/agent/{agent_id}",
    summary="Pair-wise key setup (2.05)",
    openapi_extra=_TEXT_BODY,
    responses={403: {"description": "Pairing refused: no body (2.05.1)", "content": {}}},
)
async def pair_agent(agent_id: str, request: Request, drp: DrpDep) -> Response:
    body = await request.body()
    try:
        answer = await asyncio.to_thread(service.pair, drp, agent_id, body)
    except DrpRefused:
        return Response(status_code=403)  # 2.05.1: no body; sort it out of band
    return JSONResponse(answer)


@router.get("/v1/agent/{agent_id}", summary="Agent information: is the token valid (2.06)")
async def agent_information(agent_id: str, drp: DrpDep, token: TokenDep) -> dict[str, Any]:
    await asyncio.to_thread(service.check_token, drp.platform, agent_id, token)
    return {}


@router.post(
    "/v1/data-rights-request", summary="Data Rights Exercise (2.01)", openapi_extra=_TEXT_BODY
)
@router.post("/v1/data-rights-request/", include_in_schema=False)  # pre-0.9.3 agents
async def exercise(
    request: Request, drp: DrpDep, token: TokenDep, workflows: WorkflowsDep
) -> dict[str, Any]:
    return await service.exercise(drp, workflows, token, await request.body())


@router.get("/v1/data-rights-request/{request_id}", summary="Data Rights Status (2.02)")
async def exercise_status(request_id: str, drp: DrpDep, token: TokenDep) -> dict[str, Any]:
    return await asyncio.to_thread(service.status, drp.platform, token, request_id)


@router.delete(
    "/v1/data-rights-request/{request_id}",
    summary="Data Rights Revoke (2.04)",
    openapi_extra=_TEXT_BODY,
)
async def revoke(
    request_id: str, request: Request, drp: DrpDep, token: TokenDep, workflows: WorkflowsDep
) -> dict[str, Any]:
    return await service.revoke(drp, workflows, token, request_id, await request.body())
