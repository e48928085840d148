"""/codec/encode and /codec/decode: the Temporal codec server, so the Temporal UI (or `temporal`
CLI with --codec-endpoint) shows our sealed workflow payloads to operators allowed to see them.

The protocol is Temporal's: a JSON body `{"payloads": [{"metadata": {name: base64}, "data":
base64}]}` answered in the same shape, with the namespace in `X-Namespace`. Both routes need
`payloads:decode`; every decode is audited per request whose payloads were shown. A payload
whose request's key was destroyed (its records purged) cannot be decoded: a 422 problem says so.

CORS is answered here, for these two routes only, for the origins in `codec_cors_origins` (by
default the embedded dev server's UI): the UI calls from its own origin, with credentials.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, Security
from pydantic import BaseModel, Field

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem, problem_responses
from rightsflow.config import Settings
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import Conflict, InvalidInput, RightsflowError
from rightsflow.services import payload_codec, requests
from rightsflow.services.payload_codec import PayloadUnreadable, RawPayload

MAX_PAYLOADS = 1_000
_SAFE_WORKFLOW_ID = re.compile(r"^[A-Za-z0-9._:@/=+-]{1,255}$")
_ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace, X-Workflow-Id, X-CSRF-Token"


# "byte" is OpenAPI's base64 string; `_bytes` is what checks it.
Base64Text = Annotated[str, Field(json_schema_extra={"format": "byte"})]


class PayloadJson(BaseModel):
    metadata: dict[str, Base64Text] = Field(
        default_factory=dict, description="Values base64-encoded"
    )
    data: Base64Text = Field(default="", description="base64")


class PayloadsJson(BaseModel):
    payloads: list[PayloadJson] = Field(max_length=MAX_PAYLOADS)


def _origins(request: Request) -> Sequence[str]:
    settings = request.app.state.settings
    return settings.codec_cors_origins if isinstance(settings, Settings) else ()


def _allow_origin(request: Request, response: Response) -> None:
    origin = request.headers.get("origin")
    response.headers.append("Vary", "Origin")
    if origin and origin in _origins(request):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"


async def _rendered(request: Request, exc: Exception) -> Response:
    """The app's own answer to `exc` (a problem), so that it carries the CORS headers too."""
    for cls in type(exc).__mro__:
        handler = request.app.exception_handlers.get(cls)
        if handler is not None:
            response = handler(request, exc)
            rendered: Response = await response if inspect.isawaitable(response) else response
            return rendered
    raise exc


class CodecRoute(AuthenticatedRoute):
    """An authenticated route whose answers, problems included, carry route-local CORS."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:  # rendered by the app's handlers, or re-raised
                response = await _rendered(request, exc)
            _allow_origin(request, response)
            response.headers["Cache-Control"] = "no-store"  # decoded payloads are personal data
            return response

        return with_cors


router = APIRouter(
    prefix="/codec",
    tags=["codec server"],
    route_class=CodecRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 404, 409, 422),
)
# Preflights carry no credentials: answered without authentication, and only with CORS headers.
preflight = APIRouter(prefix="/codec", include_in_schema=False)

Namespace = Annotated[str | None, Header(alias="X-Namespace", description="Temporal namespace")]
WorkflowId = Annotated[
    str | None, Header(alias="X-Workflow-Id", description="The workflow the payloads belong to")
]


@router.post(
    "/decode",
    summary="Decode (open) sealed Temporal payloads; audited",
    response_model=PayloadsJson,
)
@requires(Scope.PAYLOADS_DECODE)
async def decode(
    *,
    request: Request,
    body: PayloadsJson,
    platform: PlatformDep,
    actor: ActorDep,
    namespace: Namespace = None,  # noqa: ARG001 (part of the protocol; one codec serves all)
    workflow_id: WorkflowId = None,
) -> Response:
    raw = _raw_payloads(body.payloads)
    try:
        opened = await asyncio.to_thread(payload_codec.open_all, platform.vault, raw)
    except PayloadUnreadable as exc:
        return problem(request, 422, exc.code, str(exc))
    counts = payload_codec.requests_in(raw)
    shown = workflow_id if workflow_id and _SAFE_WORKFLOW_ID.match(workflow_id) else None
    await asyncio.to_thread(payload_codec.record_decoded, platform, actor, counts, shown)
    return _answer(opened)


@router.post(
    "/encode",
    summary="Encode (seal) Temporal payloads, e.g. a signal from the UI",
    response_model=PayloadsJson,
)
@requires(Scope.PAYLOADS_DECODE)
async def encode(
    *,
    body: PayloadsJson,
    platform: PlatformDep,
    namespace: Namespace = None,  # noqa: ARG001
    workflow_id: WorkflowId = None,
) -> Response:
    request_id = payload_codec.request_of_workflow(workflow_id)
    if request_id is not None:  # 404 for an unknown request: no key is made for it
        await asyncio.to_thread(requests.get, platform, request_id)
    raw = _raw_payloads(body.payloads)
    key_id = payload_codec.key_id_for(request_id)
    try:
        sealed = await asyncio.to_thread(payload_codec.seal_all, platform.vault, key_id, raw)
    except RightsflowError as exc:  # the request's key was destroyed: nothing more is sealed
        raise Conflict(str(exc)) from None
    return _answer(sealed)


@preflight.options("/decode")
@preflight.options("/encode")
def cors_preflight(request: Request) -> Response:
    response = Response(status_code=204)
    _allow_origin(request, response)
    if "access-control-allow-origin" in response.headers:
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _raw_payloads(payloads: list[PayloadJson]) -> list[RawPayload]:
    return [
        RawPayload(
            {name: _bytes(value, f"payloads.{i}.metadata") for name, value in p.metadata.items()},
            _bytes(p.data, f"payloads.{i}.data"),
        )
        for i, p in enumerate(payloads)
    ]


def _bytes(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("not base64", field) from None


def _answer(payloads: list[RawPayload]) -> Response:
    doc = PayloadsJson(
        payloads=[
            PayloadJson(metadata={k: _text(v) for k, v in p.metadata.items()}, data=_text(p.data))
            for p in payloads
        ]
    )
    return Response(doc.model_dump_json(), media_type="application/json")


def _text(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
