"""POST /oauth/token: the OAuth2 client credentials grant (RFC 6749 §4.4).

This endpoint speaks OAuth, not problem+json: the body is form-encoded, errors are RFC 6749
§5.2 JSON (`{"error": "invalid_client"}`, 400 or 401) so any OAuth client library can use it.
The client authenticates with HTTP Basic (`client_id:client_secret`, each form-encoded first,
§2.3.1) or with `client_id` and `client_secret` in the body; never both. It is checked before
anything else in the request, so a caller without valid credentials learns nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic
from pydantic import BaseModel, Field

from rightsflow.api.client_tokens import ClientTokens
from rightsflow.api.deps import api_deps
from rightsflow.domain.clients import ClientAuthFailed, IssuedToken
from rightsflow.domain.errors import InvalidInput

FORM = "application/x-www-form-urlencoded"
MAX_BODY = 4096
GRANT = "client_credentials"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

router = APIRouter(tags=["oauth"])


class _DocumentedBasic(HTTPBasic):
    """Puts the Basic scheme in the OpenAPI document and parses nothing: the endpoint reads the
    header itself, so a malformed one is an OAuth error, not FastAPI's own 401."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]  # noqa: ARG002
        return None


client_basic = _DocumentedBasic(
    auto_error=False,
    scheme_name="clientBasic",
    description="OAuth2 client credentials: client_id as user name, client_secret as password.",
)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="Seconds until the token expires")
    scope: str = Field(description="Space-separated scopes the token holds")


class OAuthError(BaseModel):
    error: str = Field(
        examples=["invalid_client"],
        description="invalid_request | invalid_client | invalid_scope | unsupported_grant_type",
    )
    error_description: str | None = None


class _OAuthProblem(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": [GRANT]},
        "scope": {"type": "string", "description": "Space-separated subset of the grant"},
        "client_id": {"type": "string", "description": "Instead of HTTP Basic"},
        "client_secret": {"type": "string", "description": "Instead of HTTP Basic"},
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {"model": OAuthError, "description": description}


@router.post(
    "/oauth/token",
    summary="An access token for a client (OAuth2 client credentials grant)",
    response_model=TokenOut,
    dependencies=[Security(client_basic)],
    openapi_extra={"requestBody": {"required": True, "content": {FORM: {"schema": _FORM_SCHEMA}}}},
    responses={
        400: _error_response("invalid_request, invalid_scope or unsupported_grant_type"),
        401: _error_response("invalid_client"),
    },
)
async def token(request: Request) -> JSONResponse:
    try:
        issued = await _grant(request)
    except _OAuthProblem as exc:
        return _oauth_error(exc)
    except ClientAuthFailed:
        return _oauth_error(_OAuthProblem(401, "invalid_client", "client authentication failed"))
    except InvalidInput as exc:
        return _oauth_error(_OAuthProblem(400, "invalid_scope", str(exc)))
    body = TokenOut(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 (the token type's name, not a secret)
        expires_in=issued.expires_in,
        scope=" ".join(sorted(s.value for s in issued.scopes)),
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


async def _grant(request: Request) -> IssuedToken:
    """Client authentication first, then the grant: a caller without valid credentials
    learns nothing about the rest of its request."""
    params = await _form(request)
    client_id, secret = _credentials(request, params)
    tokens = api_deps(request).tokens
    if not isinstance(tokens, ClientTokens):
        raise _OAuthProblem(401, "invalid_client", "client authentication failed")
    service = tokens.service
    client = await asyncio.to_thread(service.authenticate, client_id, secret)
    grant = _single(params, "grant_type")
    if grant is None:
        raise _OAuthProblem(400, "invalid_request", "grant_type is required")
    if grant != GRANT:
        raise _OAuthProblem(400, "unsupported_grant_type", f"only {GRANT} is supported")
    return service.issue_token(client, _single(params, "scope"))


def _oauth_error(exc: _OAuthProblem) -> JSONResponse:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="rightsflow"'
    content = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(content, status_code=exc.status, headers=headers)


async def _form(request: Request) -> list[tuple[str, str]]:
    """The form parameters; a body of another media type carries none."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _OAuthProblem(400, "invalid_request", "the request body is too large")
    if media_type != FORM:
        return []
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise _OAuthProblem(400, "invalid_request", "the body is not a valid form") from None


def _single(params: list[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in params if key == name]
    if len(values) > 1:  # RFC 6749 §3.2: parameters must not be repeated
        raise _OAuthProblem(400, "invalid_request", f"{name} is given more than once")
    return values[0] if values else None


def _credentials(request: Request, params: list[tuple[str, str]]) -> tuple[str, str]:
    in_body = _single(params, "client_id"), _single(params, "client_secret")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    basic = scheme.lower() == "basic"
    if basic and any(value is not None for value in in_body):
        raise _OAuthProblem(400, "invalid_request", "use one way to authenticate the client")
    if basic:
        return _basic(encoded.strip())
    client_id, secret = in_body
    if not client_id or not secret:
        raise _OAuthProblem(401, "invalid_client", "client authentication failed")
    return client_id, secret


def _basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _OAuthProblem(401, "invalid_client", "client authentication failed") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise _OAuthProblem(401, "invalid_client", "client authentication failed")
    return unquote_plus(client_id), unquote_plus(secret)
