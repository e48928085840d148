"""What the API needs from the composition root, and how routes get at it.

`create_app` stores one `ApiDeps` on `app.state`; routes read it through the dependencies here,
so nothing is global and a test can build as many apps as it likes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from rightsflow.connectors.registry import ConnectorRegistry, default_registry
from rightsflow.domain.errors import Conflict
from rightsflow.services.platform import Platform
from rightsflow.services.ports import BulkStarter, WorkflowStarter
from rightsflow.services.sweeps import SweepLauncher

if TYPE_CHECKING:
    from rightsflow.api.auth import SessionVerifier, TokenVerifier

# Component name -> "ok" or a short, safe reason it is not ready.
Readiness = Callable[[], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class ApiDeps:
    platform: Platform
    workflows: WorkflowStarter
    # The bootstrap owner credential (the embedded default's admin token).
    token_is_valid: Callable[[str], bool]
    readiness: Readiness
    # The connector kinds the console can offer; by default the built-ins and installed plugins.
    registry: ConnectorRegistry = field(default_factory=default_registry)
    # OAuth2 access tokens of clients, and people's console sessions (None: not accepted).
    tokens: TokenVerifier | None = None
    sessions: SessionVerifier | None = None
    # Starts bulk jobs' workflows (None: bulk jobs cannot be created here).
    bulk: BulkStarter | None = None
    # Starts retention sweep runs on the workflow engine (None: "run now" is refused).
    sweeps: SweepLauncher | None = None


def api_deps(request: Request) -> ApiDeps:
    deps = request.app.state.deps
    if not isinstance(deps, ApiDeps):
        raise TypeError("app.state.deps is not set: build the app with create_app")
    return deps


def _platform(request: Request) -> Platform:
    return api_deps(request).platform


def _workflows(request: Request) -> WorkflowStarter:
    return api_deps(request).workflows


def _bulk(request: Request) -> BulkStarter:
    starter = api_deps(request).bulk
    if starter is None:
        raise Conflict("bulk jobs are not enabled on this server")
    return starter


def _readiness(request: Request) -> Readiness:
    return api_deps(request).readiness


def _registry(request: Request) -> ConnectorRegistry:
    return api_deps(request).registry


PlatformDep = Annotated[Platform, Depends(_platform)]
RegistryDep = Annotated[ConnectorRegistry, Depends(_registry)]
WorkflowsDep = Annotated[WorkflowStarter, Depends(_workflows)]
ReadinessDep = Annotated[Readiness, Depends(_readiness)]
BulkDep = Annotated[BulkStarter, Depends(_bulk)]
