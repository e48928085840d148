"""Every error as `application/problem+json` (RFC 9457) with a stable `type` per code.

Nothing a client sent is echoed back except the request path (`instance`; for a route whose path
carries a subject, e.g. /api/v1/consent/{subject}, the route's template instead): validation
errors name fields, never values, and unexpected errors say nothing about what went wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rightsflow.domain.errors import (
    Conflict,
    ConnectorFailure,
    DataMapInvalid,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Refused,
    RightsflowError,
)

PROBLEM_BASE = "https://rightsflow.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = structlog.get_logger("rightsflow.api")

# Most specific class first is not needed: the lookup walks the exception's MRO.
_DOMAIN_STATUS: dict[type[RightsflowError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    DataMapInvalid: 422,
    ConnectorFailure: 502,
    Refused: 401,
}
_HTTP_CODES = {401: "unauthorized", 404: "not-found", 405: "method-not-allowed"}
_LOC_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
# A field name worth showing: identifiers, list indexes and pydantic's "[key]" marker. Anything
# else (a dict key holding an email, say) could be personal data and ends the path.
# ":" joins a dataset and collection in a field address (`corrections.shop:customers.name`).
_SAFE_PART = re.compile(r"^(\[key\]|[A-Za-z_][A-Za-z0-9_\-:]{0,127}|[0-9]{1,6})$")
_CONNECTOR_DETAIL = "A connected system failed; the request can be retried later."
_INTERNAL_DETAIL = "An unexpected error occurred. Quote the request id when reporting it."
_INVALID_DETAIL = "The request is not valid; see errors."
_BODY_UNREADABLE = "There was an error parsing the body"  # FastAPI's detail for its 400
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Unauthorized(Exception):
    """Missing, invalid or expired credentials (an API concern, so not in the domain hierarchy)."""


class Forbidden(Exception):
    """Valid credentials without the scope the route needs (or a failed CSRF check)."""

    def __init__(self, detail: str, required_scope: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.required_scope = required_scope


class FieldError(BaseModel):
    field: str
    message: str


class ProblemDoc(BaseModel):
    """The shape of every error response (for the OpenAPI document)."""

    type: str = Field(examples=[f"{PROBLEM_BASE}invalid-input"])
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldError] | None = None


_PROBLEM_REF = "#/components/schemas/ProblemDoc"  # registered through "model" below


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem bodies for the given statuses."""
    return {
        status: {
            "model": ProblemDoc,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _PROBLEM_REF}}},
        }
        for status in statuses
    }


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    return problem_at(
        instance_of(request), status, code, detail, errors=errors, headers=headers, extra=extra
    )


def instance_of(request: Request) -> str:
    return instance_in(request.scope)


def instance_in(scope: Mapping[str, Any]) -> str:
    """The request's path, or its route's template when the path names a subject (an id,
    device id or email: personal data that must not come back in an error or reach a log)."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str) and "{subject}" in template:
        return template
    return str(scope.get("path", ""))


def problem_at(
    path: str,
    status: int,
    code: str,
    detail: str,
    *,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": path,
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def internal_error(path: str, request_id: str) -> JSONResponse:
    return problem_at(
        path, 500, "internal-error", _INTERNAL_DETAIL, extra={"request_id": request_id}
    )


def safe_field(parts: Sequence[str | int]) -> str:
    """Join a location into a dotted field name, cut before any part that is not a name."""
    kept: list[str] = []
    for part in parts:
        text = str(part)
        if not _SAFE_PART.match(text):
            break
        kept.append(text)
    return ".".join(kept) or "body"


def _domain_field(field: str | None) -> str:
    """A domain field path as is when every part is a name; else only its first part (a dict
    key such as an email would be split at its dots and leak a piece otherwise)."""
    if not field:
        return "body"
    parts = field.split(".")
    return field if safe_field(parts) == field else safe_field(parts[:1])


def _status_for(exc: RightsflowError) -> int | None:
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_STATUS:
            return _DOMAIN_STATUS[cls]
    return None


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RightsflowError)  # noqa: S101 (registered for this class only)
    status = _status_for(exc)
    if status is None:
        log.error("unmapped_domain_error", error_type=type(exc).__name__, code=exc.code)
        return internal_error(instance_of(request), _request_id(request))
    errors: list[FieldError] | None = None
    extra: dict[str, Any] | None = None
    detail = str(exc)
    headers: dict[str, str] | None = None
    if isinstance(exc, InvalidTransition) and exc.current:
        extra = {"current_status": exc.current}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):  # e.g. a new code may be sent after the back-off
        headers = {"Retry-After": str(retry_after)}
    if isinstance(exc, InvalidInput):
        field = _domain_field(exc.field)
        errors = [FieldError(field=field, message=detail)]
    elif isinstance(exc, DataMapInvalid):
        errors = [
            FieldError(field=f"{p.file}: {p.location}", message=p.message) for p in exc.problems
        ]
    elif isinstance(exc, ConnectorFailure):
        # Connector messages may quote the target system's own error text: keep it in our
        # records, not in a response.
        detail = _CONNECTOR_DETAIL
    return problem(request, status, exc.code, detail, errors=errors, extra=extra, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for this class only)
    errors = []
    for err in exc.errors():
        loc: Sequence[str | int] = err.get("loc", ())
        if loc and loc[0] in _LOC_SOURCES:
            loc = loc[1:]
        # Only the location and pydantic's message: `input` and `ctx` may hold personal data.
        errors.append(FieldError(field=safe_field(loc), message=str(err.get("msg", "invalid"))))
    return problem(request, 422, "validation-error", _INVALID_DETAIL, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 (registered for this class only)
    status = exc.status_code
    if status == 400 and exc.detail == _BODY_UNREADABLE:
        # FastAPI's answer to a body that is not even text (bad UTF-8); malformed JSON is a
        # 422 already, so this is one too: every route documents 422, none documents 400.
        errors = [FieldError(field="body", message="The body is not valid JSON text.")]
        return problem(request, 422, "validation-error", _INVALID_DETAIL, errors=errors)
    code = _HTTP_CODES.get(status, "http-error")
    detail = "No such resource." if status == 404 else HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    allowed = _allowed_methods(request) if status == 405 else None
    if allowed is not None:
        headers["Allow"] = allowed
    return problem(request, status, code, detail, headers=headers)


def _allowed_methods(request: Request) -> str | None:
    """The methods the OpenAPI document gives the path this URL belongs to, where a concrete
    path wins over a templated one (`/search` over `/{request_id}`), as OpenAPI says. Starlette's
    own `Allow` names only the first route that matched, while GET and POST of one path are two
    routes. None for a URL no documented path matches (Starlette's header then stands)."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    matching = [t for t in paths if _template(t).fullmatch(request.url.path)]
    if not matching:
        return None
    chosen = min(matching, key=lambda t: t.count("{"))
    return ", ".join(m.upper() for m in paths[chosen] if m.upper() in _METHODS)


def _template(path: str) -> re.Pattern[str]:
    """An OpenAPI path as a pattern: each `{name}` stands for one path segment."""
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


async def _unauthorized(request: Request, _exc: Exception) -> JSONResponse:
    return problem(
        request,
        401,
        "unauthorized",
        "Valid credentials are required: a bearer token, or a console session.",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Forbidden)  # noqa: S101 (registered for this class only)
    extra = {"required_scope": exc.required_scope} if exc.required_scope else None
    return problem(request, 403, "forbidden", exc.detail, extra=extra)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RightsflowError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(Forbidden, _forbidden)
