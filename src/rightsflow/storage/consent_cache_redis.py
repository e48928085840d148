"""The consent state cache in Redis: shared by every API process (the in-process cache is not).

Each document is a hash `{v: version, d: document}` with a TTL. `put` is one Lua script that
replaces only an older version, atomically, so a slow reader that filled from the database
before a write cannot put its older document back over the write's.

Redis being down never makes a read wrong, only slower: `get` answers None and the caller reads
the database. Errors are counted and logged at most once per LOG_INTERVAL (never a key: keys
hold subject hashes). After an error a short circuit breaker skips Redis for `breaker_seconds`,
so reads do not each pay a connect timeout. A `put` or `forget` that failed is remembered and
replayed before the next `get` reaches Redis: a Redis that comes back (or a network that heals)
cannot serve a document older than a write that already returned. If more than `max_pending`
failed while it was away, every document under the prefix is deleted on return instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

LOG_INTERVAL = 30.0
_FORGET = -1  # a remembered forget (versions are >= 0)

_PUT_IF_NEWER = """
local held = redis.call('HGET', KEYS[1], 'v')
if held and tonumber(held) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class RedisConsentCache:
    """Satisfies services.consent_ports.ConsentCache. Thread-safe (redis-py pools connections)."""

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: int = 3600,
        timeout_seconds: float = 0.25,
        breaker_seconds: float = 1.0,
        max_pending: int = 100_000,
        prefix: str = "consent:",
    ) -> None:
        # One retry: a pooled connection a restarted Redis closed is replaced, not an error.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 1),
        )
        # Reads on an event loop go through an asyncio client: no thread hop, no blocked loop.
        self._async_client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=AsyncRetry(NoBackoff(), 1),
        )
        self._put_script = self._client.register_script(_PUT_IF_NEWER)
        self._ttl = ttl_seconds
        self._breaker = breaker_seconds
        self._max_pending = max_pending
        self._prefix = prefix
        self._lock = threading.Lock()
        self._open_until = 0.0
        # key -> (version, document) of a failed put, or (_FORGET, b"") of a failed forget
        self._pending: dict[str, tuple[int, bytes]] = {}
        self._overflowed = False
        self.errors = 0  # Redis errors since start (for metrics and tests)
        self._logged_errors = 0
        self._logged_at = float("-inf")

    # -- the port -------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        if self._is_open() or not self._replay():
            return None
        try:
            value = self._client.hget(key, "d")
        except redis.RedisError as error:
            self._failed(error)
            return None
        return value if isinstance(value, bytes) else None

    async def aget(self, key: str) -> bytes | None:
        """`get` for an event loop. While failed writes wait to be replayed it answers None
        (the caller's database read then goes through `get`, which replays them first)."""
        if self._is_open() or self._pending or self._overflowed:
            return None
        try:
            value = await self._async_client.hget(key, "d")
        except redis.RedisError as error:
            self._failed(error)
            return None
        return value if isinstance(value, bytes) else None

    def put(self, key: str, version: int, document: bytes) -> None:
        args: list[bytes | int] = [version, document, self._ttl]
        if not self._attempt(lambda: self._put_script(keys=[key], args=args)):
            self._remember(key, version, document)

    def forget(self, key: str) -> None:
        if not self._attempt(lambda: self._client.delete(key)):
            self._remember(key, _FORGET, b"")

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        """Close the asyncio client's connections (on the loop that used them)."""
        await self._async_client.aclose()

    @property
    def pending(self) -> int:
        """How many failed writes wait to be replayed."""
        return len(self._pending)

    # -- failures ----------------------------------------------------------------------------

    def _attempt(self, write: Callable[[], object]) -> bool:
        """Run a write unless the breaker is open or earlier failed writes cannot be replayed."""
        if self._is_open() or not self._replay():
            return False
        try:
            write()
        except redis.RedisError as error:
            self._failed(error)
            return False
        return True

    def _is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def _failed(self, error: redis.RedisError) -> None:
        now = time.monotonic()
        with self._lock:
            self.errors += 1
            self._open_until = now + self._breaker
            if now - self._logged_at < LOG_INTERVAL:
                return
            count, self._logged_errors, self._logged_at = (
                self.errors - self._logged_errors,
                self.errors,
                now,
            )
        log.warning(
            "consent cache: Redis unavailable (%s); %d error(s); reading the database for %.1fs",
            type(error).__name__,
            count,
            self._breaker,
        )

    def _remember(self, key: str, version: int, document: bytes) -> None:
        with self._lock:
            held = self._pending.get(key)
            if held is not None and held[0] > version and version != _FORGET:
                return
            if len(self._pending) >= self._max_pending and key not in self._pending:
                self._overflowed = True
                self._pending.clear()
            if not self._overflowed:
                self._pending[key] = (version, document)

    def _replay(self) -> bool:
        """Apply the remembered writes; False (and the breaker opens) if Redis still fails."""
        if not self._pending and not self._overflowed:
            return True
        with self._lock:
            pending, self._pending = self._pending, {}
            overflowed, self._overflowed = self._overflowed, False
        try:
            if overflowed:
                self._forget_all()
            else:
                self._apply(pending)
        except redis.RedisError as error:
            self._failed(error)
            self._restore(pending, overflowed)
            return False
        return True

    def _apply(self, pending: dict[str, tuple[int, bytes]]) -> None:
        pipe: Any = self._client.pipeline(transaction=False)
        for key, (version, document) in pending.items():
            if version == _FORGET:
                pipe.delete(key)
            else:
                self._put_script(keys=[key], args=[version, document, self._ttl], client=pipe)
        pipe.execute()

    def _forget_all(self) -> None:
        batch: list[bytes] = []
        for key in self._client.scan_iter(match=self._prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self._client.unlink(*batch)
                batch.clear()
        if batch:
            self._client.unlink(*batch)

    def _restore(self, pending: dict[str, tuple[int, bytes]], overflowed: bool) -> None:
        with self._lock:
            if overflowed:
                self._overflowed = True
                return
            for key, entry in pending.items():
                newer = self._pending.get(key)
                if newer is None or (newer[0] != _FORGET and newer[0] < entry[0]):
                    self._pending[key] = entry
