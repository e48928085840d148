"""ClientService.principal_without_io: the API's on-loop token check (no database read)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rightsflow.domain.access import Scope
from rightsflow.domain.clients import TokenClaims
from rightsflow.services.clients import ClientService

GOOD, BAD = "good-token", "bad-token"


class CountingCodec:
    def __init__(self) -> None:
        self.verified = 0

    def issue(self, client_id: str, scopes: frozenset[Scope], now: datetime, ttl_s: int) -> str:
        raise NotImplementedError

    def verify(self, token: str) -> TokenClaims | None:
        self.verified += 1
        return TokenClaims("c-1", frozenset({Scope.CONSENT_READ})) if token == GOOD else None


def service(codec: CountingCodec) -> ClientService:
    store: Any = None  # never reached: these checks read no database
    return ClientService(store=store, tokens=codec, clock=lambda: datetime.now(UTC))


def test_a_client_without_a_cached_status_needs_the_database() -> None:
    assert service(CountingCodec()).principal_without_io(GOOD) == (False, None)


def test_cached_status_decides_on_the_loop_and_a_token_is_checked_once_a_second() -> None:
    codec = CountingCodec()
    clients = service(codec)
    clients._status["c-1"] = (time.monotonic(), frozenset({Scope.CONSENT_READ}))
    for _ in range(3):
        decided, principal = clients.principal_without_io(GOOD)
        assert decided
        assert principal is not None
        assert principal.may(Scope.CONSENT_READ)
    assert codec.verified == 1
    clients._memo[GOOD] = (time.monotonic() - 2, clients._memo[GOOD][1])
    clients.principal_without_io(GOOD)
    assert codec.verified == 2  # older than VERIFIED_MEMO_S: verified again


def test_invalid_tokens_and_revoked_clients_are_refused_and_never_remembered() -> None:
    codec = CountingCodec()
    clients = service(codec)
    assert clients.principal_without_io(BAD) == (True, None)
    assert clients.principal_without_io(BAD) == (True, None)
    assert codec.verified == 2
    clients._status["c-1"] = (time.monotonic(), None)  # revoked
    assert clients.principal_without_io(GOOD) == (True, None)
