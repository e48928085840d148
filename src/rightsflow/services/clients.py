"""OAuth2 clients: create, list, rotate a secret, revoke; issue and check access tokens.

Secrets are 256 bits from the OS's CSPRNG, shown once, stored as a sha256 hex digest. A slow
password hash (argon2) protects *guessable* secrets; these cannot be guessed, so a fast hash is
as safe and lets the token endpoint find a secret with one index lookup. The digest is compared
in constant time all the same.

Every change is audited (actor, client id, scopes; never a secret). Issuing a token changes
nothing and is not audited. A token names its client; checking one asks whether that client is
still active, answered from a cache for at most `status_cache_s`, so revoking a client ends its
tokens within that many seconds everywhere (at once in the process that revoked it).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol

from rightsflow.domain.access import Principal, PrincipalKind, Scope, parse_scopes
from rightsflow.domain.clients import (
    ClientAuthFailed,
    IssuedToken,
    OAuthClient,
    TokenClaims,
    check_grant,
    check_name,
    narrow,
)
from rightsflow.domain.errors import Conflict, InvalidInput, NotFound
from rightsflow.services.ports import AuditEvent, AuditRepository, Clock

NO_REQUEST = ""  # audit events about access, not about a privacy request
SECRET_PREFIX = "rfs_"  # noqa: S105 (a prefix that lets secret scanners spot a leaked secret)
MAX_GRACE = timedelta(days=30)
_CACHE_LIMIT = 10_000
VERIFIED_MEMO_S = 1.0  # below storage.access_tokens.LEEWAY_S (see ClientService._verified)


class ClientRepository(Protocol):
    def add(self, client: OAuthClient) -> None: ...
    def get(self, client_id: str, now: datetime) -> OAuthClient | None: ...
    def list(self, now: datetime) -> Sequence[OAuthClient]: ...
    def add_secret(self, client_id: str, secret_hash: str, now: datetime) -> str: ...
    def expire_secrets(self, client_id: str, until: datetime, now: datetime) -> int: ...
    def revoke(self, client_id: str, now: datetime) -> bool: ...
    def client_for_secret(self, secret_hash: str, now: datetime) -> OAuthClient | None: ...
    def active_scopes(self, client_id: str) -> frozenset[Scope] | None: ...


class ClientTransaction(Protocol):
    """Clients and the audit trail in one transaction; leaving without commit rolls back."""

    @property
    def clients(self) -> ClientRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    def __enter__(self) -> ClientTransaction: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class ClientStore(Protocol):
    def begin(self) -> ClientTransaction: ...


class TokenCodec(Protocol):
    def issue(self, client_id: str, scopes: frozenset[Scope], now: datetime, ttl_s: int) -> str: ...
    def verify(self, token: str) -> TokenClaims | None: ...


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class NewClient:
    client: OAuthClient
    secret: str  # shown once


@dataclass
class ClientService:
    store: ClientStore
    tokens: TokenCodec
    clock: Clock
    token_ttl_s: int = 600
    status_cache_s: float = 5.0
    _status: dict[str, tuple[float, frozenset[Scope] | None]] = field(default_factory=dict)
    _memo: dict[str, tuple[float, TokenClaims]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, name: str, scopes: Sequence[str], by: Principal) -> NewClient:
        granted = parse_scopes(scopes)
        check_grant(by, granted)
        now = self.clock()
        client = OAuthClient(str(uuid.uuid4()), check_name(name), granted, now, by.actor)
        secret = new_secret()
        with self.store.begin() as tx:
            tx.clients.add(client)
            secret_id = tx.clients.add_secret(client.id, secret_digest(secret), now)
            _record(
                tx, "client.created", now, by,
                client_id=client.id, scopes=_names(granted), secret_id=secret_id,
            )  # fmt: skip
            tx.commit()
        return NewClient(client, secret)

    def list(self) -> Sequence[OAuthClient]:
        with self.store.begin() as tx:
            return tx.clients.list(self.clock())

    def rotate_secret(self, client_id: str, grace: timedelta, by: Principal) -> NewClient:
        """A new secret; the client's other live secrets keep working until `grace` ends."""
        if grace < timedelta(0) or grace > MAX_GRACE:
            raise InvalidInput(f"the grace period is 0 to {MAX_GRACE.days} days", "grace")
        now = self.clock()
        secret = new_secret()
        with self.store.begin() as tx:
            client = self._active(tx, client_id, now)
            expiring = tx.clients.expire_secrets(client_id, now + grace, now)
            secret_id = tx.clients.add_secret(client_id, secret_digest(secret), now)
            _record(
                tx, "client.secret_rotated", now, by,
                client_id=client_id, secret_id=secret_id, grace_s=int(grace.total_seconds()),
                expiring=expiring,
            )  # fmt: skip
            rotated = tx.clients.get(client_id, now) or client
            tx.commit()
        return NewClient(rotated, secret)

    def revoke(self, client_id: str, by: Principal) -> bool:
        """Revoke the client, its secrets and its tokens; False when it was revoked already."""
        now = self.clock()
        with self.store.begin() as tx:
            if tx.clients.get(client_id, now) is None:
                raise NotFound("client not found")
            revoked = tx.clients.revoke(client_id, now)
            if revoked:
                _record(tx, "client.revoked", now, by, client_id=client_id)
            tx.commit()
        with self._lock:
            self._status.pop(client_id, None)
        return revoked

    def authenticate(self, client_id: str, secret: str) -> OAuthClient:
        """The active client these credentials belong to, or ClientAuthFailed."""
        now = self.clock()
        with self.store.begin() as tx:
            client = tx.clients.client_for_secret(secret_digest(secret), now)
        if client is None or client.id != client_id:
            raise ClientAuthFailed
        return client

    def issue_token(self, client: OAuthClient, scope: str | None = None) -> IssuedToken:
        """An access token for an authenticated client; `scope` (space-separated) may ask for
        a subset of its scopes (InvalidInput on field `scope` otherwise)."""
        asked = None if scope is None else _requested(scope)
        scopes = narrow(client.scopes, asked)
        token = self.tokens.issue(client.id, scopes, self.clock(), self.token_ttl_s)
        return IssuedToken(token, self.token_ttl_s, scopes)

    def principal_for_token(self, token: str) -> Principal | None:
        """The client behind a valid token, holding the token's scopes that the client still
        has; None for an invalid or expired token or a revoked client."""
        claims = self.tokens.verify(token)
        if claims is None:
            return None
        current = self._active_scopes(claims.client_id)
        if current is None:
            return None
        return Principal(PrincipalKind.CLIENT, claims.client_id, claims.scopes & current)

    def principal_without_io(self, token: str) -> tuple[bool, Principal | None]:
        """(True, the answer of principal_for_token) when it needs no database read (the
        token is invalid, or its client's status is cached); (False, None) when it does. Lets
        the API check most tokens on its event loop instead of a worker thread."""
        claims = self._verified(token)
        if claims is None:
            return True, None
        cached = self._cached_status(claims.client_id)
        if cached is None:
            return False, None
        if cached[1] is None:
            return True, None
        return True, Principal(PrincipalKind.CLIENT, claims.client_id, claims.scopes & cached[1])

    def _verified(self, token: str) -> TokenClaims | None:
        """tokens.verify, remembered for VERIFIED_MEMO_S: a service sends one token with many
        calls, and checking it (HMAC and JSON) costs more than an API's fastest answers. The
        memo is shorter than the verification's leeway for expiry (LEEWAY_S), so a token is
        never accepted later than verifying it every time could; invalid ones are not kept."""
        now = time.monotonic()
        held = self._memo.get(token)
        if held is not None and now - held[0] < VERIFIED_MEMO_S:
            return held[1]
        claims = self.tokens.verify(token)
        if claims is not None:
            if len(self._memo) >= _CACHE_LIMIT:
                self._memo.clear()
            self._memo[token] = (now, claims)
        return claims

    def _active(self, tx: ClientTransaction, client_id: str, now: datetime) -> OAuthClient:
        client = tx.clients.get(client_id, now)
        if client is None:
            raise NotFound("client not found")
        if not client.active:
            raise Conflict("the client is revoked")
        return client

    def _cached_status(self, client_id: str) -> tuple[float, frozenset[Scope] | None] | None:
        """The client's cached (time, active scopes), while fresh; None: read the database."""
        with self._lock:
            cached = self._status.get(client_id)
        if cached is None or time.monotonic() - cached[0] >= self.status_cache_s:
            return None
        return cached

    def _active_scopes(self, client_id: str) -> frozenset[Scope] | None:
        cached = self._cached_status(client_id)
        if cached is not None:
            return cached[1]
        now = time.monotonic()
        with self.store.begin() as tx:
            scopes = tx.clients.active_scopes(client_id)
        with self._lock:
            if len(self._status) >= _CACHE_LIMIT:
                self._status.clear()  # bounded; a miss costs one indexed read
            self._status[client_id] = (now, scopes)
        return scopes


def _record(
    tx: ClientTransaction, action: str, at: datetime, by: Principal, **detail: object
) -> None:
    tx.audit.append(
        AuditEvent(request_id=NO_REQUEST, action=action, at=at, actor=by.actor, detail=detail)
    )


def _requested(scope: str) -> frozenset[Scope]:
    try:
        return parse_scopes(scope.split())
    except InvalidInput as exc:
        raise InvalidInput(str(exc), "scope") from None


def _names(scopes: frozenset[Scope]) -> list[str]:
    return sorted(s.value for s in scopes)
