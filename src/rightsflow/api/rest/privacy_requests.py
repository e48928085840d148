"""/api/v1/privacy-requests: submit, read, list, cancel, retry, package, receipt, audit."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, Security
from fastapi.responses import JSONResponse, StreamingResponse

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.choices import request_filter, request_id_of
from rightsflow.api.deps import PlatformDep, WorkflowsDep
from rightsflow.api.problems import problem_responses
from rightsflow.api.rest.consent import SecGpc, gpc_header, honour_gpc_on_intake
from rightsflow.api.rest.paging import decode_cursor, encode_cursor
from rightsflow.api.rest.progress import detail_out
from rightsflow.api.rest.schemas import (
    AuditEventOut,
    ReceiptOut,
    RequestDetailOut,
    RequestPage,
    RequestSummary,
    SubmitBody,
    Submitted,
)
from rightsflow.domain.access import Scope
from rightsflow.domain.regimes import REGIMES
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.services import lifecycle, package, receipt, requests

_STATUSES: dict[str, Any] = {"enum": [s.value for s in RequestStatus]}
_TYPES: dict[str, Any] = {"enum": [t.value for t in RequestType]}
_REGIMES: dict[str, Any] = {"enum": sorted(REGIMES)}

router = APIRouter(
    prefix="/api/v1/privacy-requests",
    tags=["privacy requests"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    # 422 for every route, so the docs do not show FastAPI's default validation error schema.
    responses=problem_responses(401, 422),
)


def _request_id(
    request_id: Annotated[str, Path(description="The request's id (a UUID)")],
) -> str:
    """Anything that is not a UUID cannot name a request: 404, like an unknown id."""
    return request_id_of(request_id)


RequestId = Annotated[str, Depends(_request_id)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Submitting again with the same key returns the first request (200)",
    ),
]


# OpenAPI links from a submission to what can be done with the request it made: they document
# the flow, and schemathesis' stateful phase follows them (tests/e2e/test_schemathesis.py).
_FOLLOW_UPS = {
    "GetRequest": ("get", ""),
    "GetAuditTrail": ("get", "/audit"),
    "GetReceipt": ("get", "/receipt"),
    "DownloadPackage": ("get", "/package"),
    "Cancel": ("post", "/cancel"),
    "Retry": ("post", "/retry"),
    "Approve": ("post", "/approve"),
    "Deny": ("post", "/deny"),
    "Extend": ("post", "/extend"),
    "Verify": ("post", "/verify"),
    "ResendCode": ("post", "/verification/resend"),
    "Unlock": ("post", "/verification/unlock"),
}


def _link(method: str, suffix: str) -> dict[str, Any]:
    pointer = f"{router.prefix}/{{request_id}}{suffix}".replace("~", "~0").replace("/", "~1")
    return {
        "operationRef": f"#/paths/{pointer}/{method}",
        "parameters": {"request_id": "$response.body#/id"},
    }


_LINKS = {name: _link(method, suffix) for name, (method, suffix) in _FOLLOW_UPS.items()}


@router.post(
    "",
    status_code=202,
    summary="Submit a privacy request",
    responses={
        202: {"description": "Accepted: stored, and its workflow started", "links": _LINKS},
        200: {
            "model": Submitted,
            "description": "Replay of an earlier Idempotency-Key",
            "links": _LINKS,
        },
        **problem_responses(422),
    },
)
@requires(Scope.REQUESTS_WRITE)
async def submit_privacy_request(
    *,
    body: SubmitBody,
    request: Request,
    response: Response,
    platform: PlatformDep,
    workflows: WorkflowsDep,
    idempotency_key: IdempotencyKey = None,
    sec_gpc: SecGpc = None,
) -> Submitted:
    new = requests.NewRequest(
        type=body.type,
        identities=body.identities,
        regime=body.regime,
        policy=body.policy,
        idempotency_key=idempotency_key,
        corrections=body.corrections,
        verified=body.identity_verified,
    )
    stored, created = await requests.submit_and_start(platform, workflows, new)
    response.status_code = 202 if created else 200
    # Global Privacy Control on intake: recorded in the consent ledger; the request's audit
    # trail and the GPC-Honoured header say so (services/consent_requests.py).
    if created and gpc_header(sec_gpc) and await honour_gpc_on_intake(platform, stored.id):
        response.headers["GPC-Honoured"] = "1"
    response.headers["Location"] = str(
        request.app.url_path_for("get_privacy_request", request_id=stored.id)
    )
    token = lifecycle.subject_token(platform, stored.id)
    return Submitted(**RequestSummary.of(stored).model_dump(), subject_token=token)


@router.get("", summary="List privacy requests, newest first", responses=problem_responses(422))
@requires(Scope.REQUESTS_READ)
def list_privacy_requests(
    *,
    platform: PlatformDep,
    # The enums document the accepted values; `choice` still checks them, naming the field.
    status: Annotated[
        str | None, Query(description="received | executing | ...", json_schema_extra=_STATUSES)
    ] = None,
    request_type: Annotated[
        str | None, Query(alias="type", description="access | erasure", json_schema_extra=_TYPES)
    ] = None,
    regime: Annotated[
        str | None, Query(description="e.g. gdpr", json_schema_extra=_REGIMES)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor")] = None,
) -> RequestPage:
    filters = request_filter(status, request_type, regime)
    after = decode_cursor(cursor) if cursor is not None else None
    found = list(requests.list_requests(platform, filters, after, limit + 1))
    page = found[:limit]
    return RequestPage(
        items=[RequestSummary.of(r) for r in page],
        next_cursor=encode_cursor(page[-1]) if len(found) > limit else None,
    )


@router.get(
    "/{request_id}",
    name="get_privacy_request",
    summary="A request with its progress per system and collection",
    responses=problem_responses(404),
)
@requires(Scope.REQUESTS_READ)
def get_privacy_request(platform: PlatformDep, request_id: RequestId) -> RequestDetailOut:
    return detail_out(requests.detail(platform, request_id))


@router.post("/{request_id}/cancel", responses=problem_responses(404, 409))
@requires(Scope.REQUESTS_WRITE)
async def cancel_privacy_request(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId, actor: ActorDep
) -> RequestSummary:
    return RequestSummary.of(await requests.cancel(platform, workflows, request_id, actor))


@router.post(
    "/{request_id}/retry",
    status_code=202,
    summary="Run a failed request again from where it failed",
    responses=problem_responses(404, 409),
)
@requires(Scope.REQUESTS_WRITE)
async def retry_privacy_request(
    platform: PlatformDep, workflows: WorkflowsDep, request_id: RequestId, actor: ActorDep
) -> RequestSummary:
    return RequestSummary.of(await requests.retry(platform, workflows, request_id, actor))


@router.get(
    "/{request_id}/package",
    response_class=StreamingResponse,
    summary="Download the package (zip) of a completed access or portability request",
    responses={
        200: {"content": {"application/zip": {}}, "description": "The package"},
        **problem_responses(404, 409),
    },
)
@requires(Scope.PACKAGES_READ)
def download_package(
    platform: PlatformDep, request_id: RequestId, actor: ActorDep
) -> StreamingResponse:
    # Checked, audited and its first chunk authenticated before the response starts; the rest
    # is opened chunk by chunk as the client reads (a package may be larger than memory).
    chunks = package.open_package(platform, request_id, actor)
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="rightsflow-{request_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/{request_id}/receipt",
    summary="The signed erasure receipt: found, erased, kept and re-checked per collection",
    response_class=JSONResponse,
    responses={200: {"model": ReceiptOut}, **problem_responses(404, 409)},
)
@requires(Scope.REQUESTS_READ)
def get_receipt(platform: PlatformDep, request_id: RequestId) -> JSONResponse:
    # Sent as signed, not through ReceiptOut: a response model would drop or reformat members
    # (times, fields it does not know yet) and so break the signature.
    return JSONResponse(receipt.signed(platform, request_id))


@router.get("/{request_id}/audit", responses=problem_responses(404))
@requires(Scope.REQUESTS_READ)
def get_audit_trail(platform: PlatformDep, request_id: RequestId) -> list[AuditEventOut]:
    return [
        AuditEventOut(
            action=e.action,
            at=e.at,
            actor=e.actor,
            from_status=e.from_status,
            to_status=e.to_status,
            detail=dict(e.detail),
        )
        for e in requests.audit_trail(platform, request_id)
    ]
