"""Callers of given roles for API tests, through fixed bearer tokens (the clients helper's
OAuth2 tokens are tested on their own; these tests are about what a role may do)."""

from __future__ import annotations

from rightsflow.domain.access import ROLE_SCOPES, Principal, PrincipalKind, Role


class StaticTokens:
    """A TokenVerifier over fixed tokens."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self._principals = principals

    async def principal_for_token(self, token: str) -> Principal | None:
        return self._principals.get(token)


def client_with(role: Role) -> Principal:
    """A client holding exactly the scopes of `role`; its audit actor is `client:<role>`."""
    return Principal(PrincipalKind.CLIENT, role.value, ROLE_SCOPES[role])


def role_tokens() -> StaticTokens:
    """Bearer `<role>` (e.g. `Bearer privacy_operator`) is a client with that role's scopes."""
    return StaticTokens({role.value: client_with(role) for role in Role})
