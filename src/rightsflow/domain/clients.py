"""OAuth2 clients: services that call the API with short-lived access tokens.

A client holds a fixed set of scopes and one or more live secrets. Rotating a secret gives the
old ones a grace period, so a service can switch over without downtime; revoking the client
ends every secret and every token at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rightsflow.domain.access import Principal, Role, Scope
from rightsflow.domain.errors import InvalidInput, Refused

NAME_MAX = 128


@dataclass(frozen=True)
class ClientSecretInfo:
    """What may be shown about a secret: never the secret or its hash."""

    id: str
    created_at: datetime
    expires_at: datetime | None  # set when a rotation gave it a grace period


@dataclass(frozen=True)
class OAuthClient:
    id: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    created_by: str  # the audit actor that created it
    revoked_at: datetime | None = None
    secrets: tuple[ClientSecretInfo, ...] = field(default=())  # live ones only

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class TokenClaims:
    """A verified access token's claims that matter here."""

    client_id: str
    scopes: frozenset[Scope]


class ClientAuthFailed(Refused):
    """Unknown client, wrong or expired secret, or a revoked client (OAuth `invalid_client`).
    One message for all of them, so a caller cannot tell which."""

    code = "invalid-client"

    def __init__(self) -> None:
        super().__init__("client authentication failed")


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > NAME_MAX or not cleaned.isprintable():
        raise InvalidInput(f"a client name is 1 to {NAME_MAX} printable characters", "name")
    return cleaned


def check_grant(creator: Principal, scopes: frozenset[Scope]) -> None:
    """Who may give a client which scopes.

    A creator grants only scopes it holds itself (no way up through a client it makes), and
    `access:admin` only as an owner: a service holding `access:admin` may manage clients but
    never mint another administrator, so a stolen admin client secret cannot make itself
    permanent behind a new client id that revoking the first one would miss."""
    missing = sorted(s.value for s in scopes - creator.scopes)
    if missing:
        raise InvalidInput(f"cannot grant scopes the creator does not hold: {missing}", "scopes")
    if Scope.ACCESS_ADMIN in scopes and creator.role is not Role.OWNER:
        raise InvalidInput("only an owner may grant access:admin", "scopes")


def narrow(granted: frozenset[Scope], asked: frozenset[Scope] | None) -> frozenset[Scope]:
    """The scopes a token gets: what was asked for, which must be a subset of the grant."""
    if asked is None:
        return granted
    extra = sorted(s.value for s in asked - granted)
    if extra:
        raise InvalidInput(f"scopes not granted to this client: {extra}", "scope")
    return asked
