"""What the API needs from the composition root, and how routes get at it.

`create_app` stores one `ApiDeps` on `app.state`; routes read it through the dependencies here,
so nothing is global and a test can build as many apps as it likes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from rightsflow.api.problems import Unauthorized
from rightsflow.connectors.registry import ConnectorRegistry, default_registry
from rightsflow.services.platform import Platform
from rightsflow.services.ports import WorkflowStarter

# Component name -> "ok" or a short, safe reason it is not ready.
Readiness = Callable[[], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class ApiDeps:
    platform: Platform
    workflows: WorkflowStarter
    token_is_valid: Callable[[str], bool]
    readiness: Readiness
    # The connector kinds the console can offer; by default the built-ins and installed plugins.
    registry: ConnectorRegistry = field(default_factory=default_registry)


def api_deps(request: Request) -> ApiDeps:
    deps = request.app.state.deps
    if not isinstance(deps, ApiDeps):
        raise TypeError("app.state.deps is not set: build the app with create_app")
    return deps


def _platform(request: Request) -> Platform:
    return api_deps(request).platform


def _workflows(request: Request) -> WorkflowStarter:
    return api_deps(request).workflows


def _readiness(request: Request) -> Readiness:
    return api_deps(request).readiness


def _registry(request: Request) -> ConnectorRegistry:
    return api_deps(request).registry


PlatformDep = Annotated[Platform, Depends(_platform)]
RegistryDep = Annotated[ConnectorRegistry, Depends(_registry)]
WorkflowsDep = Annotated[WorkflowStarter, Depends(_workflows)]
ReadinessDep = Annotated[Readiness, Depends(_readiness)]

# Declares the scheme in the OpenAPI document (so /docs offers "Authorize"). It only parses the
# header; `authenticate` below is what enforces it.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="The admin token (`rightsflow-data/admin-token`), sent as `Bearer <token>`.",
)


def authenticate(request: Request) -> None:
    """Raise Unauthorized unless the request carries a valid `Authorization: Bearer` token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not api_deps(request).token_is_valid(token):
        raise Unauthorized


class AuthenticatedRoute(APIRoute):
    """A route that checks the token before anything else, body parsing included, so an
    unauthenticated client learns nothing from validation errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            authenticate(request)
            return await handler(request)

        return authenticated
