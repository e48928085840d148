"""The API's side of OAuth2 clients: the `TokenVerifier` for access tokens, and the client
service the token endpoint and the owner routes use (`ApiDeps.tokens`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from rightsflow.api.deps import api_deps
from rightsflow.domain.access import Principal
from rightsflow.domain.errors import NotFound
from rightsflow.services.clients import ClientService


class ClientTokens:
    """Satisfies api.auth.TokenVerifier over the client service (signature, expiry, audience
    and issuer, and the client still active)."""

    def __init__(self, service: ClientService) -> None:
        self.service = service

    async def principal_for_token(self, token: str) -> Principal | None:
        # Checking the signature is CPU work (microseconds): done here. Only when the client's
        # active status must be read from the database does it go to a worker thread (a thread
        # hop costs more than the check itself on the hot read paths).
        decided, principal = self.service.principal_without_io(token)
        if decided:
            return principal
        return await asyncio.to_thread(self.service.principal_for_token, token)


def client_service(request: Request) -> ClientService:
    """The client service of this app; NotFound when the app takes no client tokens."""
    tokens = api_deps(request).tokens
    if not isinstance(tokens, ClientTokens):
        raise NotFound("OAuth2 clients are not enabled on this server")
    return tokens.service


ClientServiceDep = Annotated[ClientService, Depends(client_service)]
