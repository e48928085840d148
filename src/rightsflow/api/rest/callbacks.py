"""/api/v1/callbacks/{call_id}: where a service posts the answer to slow work.

Not behind the admin token: the proof is the call's one-time token (`Authorization: Bearer`)
plus the service's signature over the body. Refusals are 401 problems and are audited."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

from rightsflow.api.deps import PlatformDep, WorkflowsDep
from rightsflow.api.problems import problem_responses
from rightsflow.services.callbacks import accept_callback

router = APIRouter(prefix="/api/v1", tags=["callbacks"])


class CallbackAccepted(BaseModel):
    status: str = "accepted"
    system: str
    operation: str


@router.post(
    "/callbacks/{call_id}",
    summary="A service's late answer (Privacy Service API v1 callback)",
    responses=problem_responses(401, 404),
)
async def receive_callback(
    call_id: str, request: Request, platform: PlatformDep, workflows: WorkflowsDep
) -> CallbackAccepted:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    call = await asyncio.to_thread(
        accept_callback,
        platform,
        call_id,
        token.strip() if scheme.lower() == "bearer" else "",
        body,
        headers,
    )
    await workflows.answered(call.request_id, call.system, call.operation)
    return CallbackAccepted(system=call.system, operation=call.operation)
