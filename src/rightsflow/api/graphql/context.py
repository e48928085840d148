"""The per-request GraphQL context: the caller, the platform, and fresh dataloaders.

Loaders are made per request (never shared between callers), so their cache lives as long as
one document's execution: what one field loaded, a sibling reuses, and nothing leaks across
requests or goes stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from rightsflow.api.auth import authenticate
from rightsflow.api.deps import ApiDeps, api_deps
from rightsflow.api.graphql.auth import GraphQLUnauthenticated
from rightsflow.api.problems import Unauthorized
from rightsflow.config import Settings
from rightsflow.domain.access import Principal
from rightsflow.services import request_batches
from rightsflow.services.platform import Platform
from rightsflow.services.ports import AuditEvent, NodeResult

T = TypeVar("T")


def _batched(
    platform: Platform, read: Callable[[Platform, Sequence[str]], list[T]]
) -> DataLoader[str, T]:
    async def load(keys: list[str]) -> list[T]:
        return await asyncio.to_thread(read, platform, keys)

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """One query per kind for all the requests a document asks about."""

    plans: DataLoader[str, dict[str, Any] | None]
    results: DataLoader[str, list[NodeResult]]
    audit: DataLoader[str, list[AuditEvent]]

    @classmethod
    def of(cls, platform: Platform) -> Loaders:
        return cls(
            plans=_batched(platform, request_batches.plans),
            results=_batched(platform, request_batches.results),
            audit=_batched(platform, request_batches.audit_events),
        )


class GraphQLContext(BaseContext):
    def __init__(self, request: Request, principal: Principal) -> None:
        super().__init__()
        self.principal = principal
        self.deps: ApiDeps = api_deps(request)
        settings = request.app.state.settings
        if not isinstance(settings, Settings):
            raise TypeError("app.state.settings is not set: build the app with create_app")
        self.settings = settings
        self.loaders = Loaders.of(self.deps.platform)

    @property
    def platform(self) -> Platform:
        return self.deps.platform

    @property
    def actor(self) -> str:
        return self.principal.actor


async def context_for(request: Request) -> GraphQLContext:
    """A FastAPI dependency: authenticates before strawberry reads the document."""
    try:
        principal = await authenticate(request)
    except Unauthorized:
        raise GraphQLUnauthenticated from None
    return GraphQLContext(request, principal)
