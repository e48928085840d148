"""Liveness and readiness probes (no authentication: they reveal component names only)."""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rightsflow.api.deps import ReadinessDep

router = APIRouter(tags=["health"])
log = structlog.get_logger("rightsflow.api")


class Health(BaseModel):
    status: str


class ReadinessReport(BaseModel):
    status: str  # "ready" | "not ready"
    components: dict[str, str]


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Every component the app needs answers (503 otherwise)",
    responses={503: {"model": ReadinessReport, "description": "Some component is not ready"}},
)
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    try:
        components = await readiness()
    except Exception as exc:
        log.warning("readiness_check_crashed", error_type=type(exc).__name__)
        components = {"readiness": f"check failed ({type(exc).__name__})"}
    ready = bool(components) and all(v == "ok" for v in components.values())
    body = ReadinessReport(status="ready" if ready else "not ready", components=components)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
