"""Authentication and authorization of API routes.

Every protected route names one scope with `@requires(Scope.X)` (below its router decorator).
`AuthenticatedRoute` resolves the caller to a `Principal` before anything else, body parsing
included, so a caller without the right credentials learns nothing from validation errors:
no or bad credentials -> 401, valid credentials without the scope -> 403.

A caller is one of: the bootstrap owner token (`data_dir/admin-token`), an OAuth2 access token
of a client (a signed JWT, `TokenVerifier`), or a person's console session (a cookie, checked
with its CSRF token on unsafe methods by `SessionVerifier`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from rightsflow.api.deps import api_deps
from rightsflow.api.problems import Forbidden, Unauthorized
from rightsflow.domain.access import BOOTSTRAP_OWNER, Principal, Scope

F = TypeVar("F", bound=Callable[..., Any])
_SCOPE_ATTRIBUTE = "__rightsflow_scope__"


class TokenVerifier(Protocol):
    """Checks an OAuth2 access token (signature, expiry, the client still active)."""

    async def principal_for_token(self, token: str) -> Principal | None: ...


class SessionVerifier(Protocol):
    """Checks a console session cookie (idle timeout, and CSRF on unsafe methods).

    Returns None when the request carries no session at all; raises Unauthorized for an
    expired or unknown one and Forbidden for a failed CSRF check."""

    async def principal_for_session(self, request: Request) -> Principal | None: ...


# Declares the scheme in the OpenAPI document (so /docs offers "Authorize"). It only parses the
# header; `AuthenticatedRoute` is what enforces it.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description=(
        "An OAuth2 access token (`POST /oauth/token`, client credentials) or the bootstrap "
        "owner token (`rightsflow-data/admin-token`), sent as `Bearer <token>`. Each operation "
        "names the scope it needs in `x-required-scope`."
    ),
)


def requires(scope: Scope) -> Callable[[F], F]:
    """Name the scope a route needs. Put it *below* the `@router.<method>` decorator."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _SCOPE_ATTRIBUTE, scope)
        return endpoint

    return mark


def required_scope(endpoint: Callable[..., Any]) -> Scope | None:
    scope = getattr(endpoint, _SCOPE_ATTRIBUTE, None)
    return scope if isinstance(scope, Scope) else None


async def authenticate(request: Request) -> Principal:
    """The caller, or Unauthorized."""
    deps = api_deps(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        # Client tokens first: checking one is CPU work (and a cached status), while the
        # bootstrap token is a database read; no token is both.
        if deps.tokens is not None:
            principal = await deps.tokens.principal_for_token(token)
            if principal is not None:
                return principal
        if await asyncio.to_thread(deps.token_is_valid, token):
            return BOOTSTRAP_OWNER
        raise Unauthorized
    if deps.sessions is not None:
        principal = await deps.sessions.principal_for_session(request)
        if principal is not None:
            return principal
    raise Unauthorized


def authorize(principal: Principal, scope: Scope) -> None:
    if not principal.may(scope):
        raise Forbidden(f"This needs the scope {scope.value}.", required_scope=scope.value)


class AuthenticatedRoute(APIRoute):
    """A route that authenticates and authorizes before anything else."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        scope = required_scope(endpoint)
        if scope is None:
            raise TypeError(
                f"route {path} ({endpoint.__name__}) names no scope: add @requires(Scope.X) "
                "below its router decorator"
            )
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra["x-required-scope"] = scope.value
        self.scope = scope  # before super().__init__, which builds the handler
        super().__init__(path, endpoint, openapi_extra=extra, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        scope = self.scope

        async def authorized(request: Request) -> Response:
            principal = await authenticate(request)
            authorize(principal, scope)
            request.state.principal = principal
            return await handler(request)

        return authorized


def _principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise TypeError("no principal: the route is not an AuthenticatedRoute")
    return principal


def _actor(request: Request) -> str:
    return _principal(request).actor


PrincipalDep = Annotated[Principal, Depends(_principal)]
ActorDep = Annotated[str, Depends(_actor)]
