"""Per-request data keys (envelope encryption) and their in-memory cache.

Each request's personal data is sealed with its own random 256-bit key. The key is stored only
wrapped, in the key database (not the app database, see key_store.py): by a key-encryption key
(KEK, see kek.py) whose version is stored with it, with the request id as associated data (a
wrapped key copied onto another request's row cannot be unwrapped). Destroying the wrapped key
("crypto-shredding") makes every copy of what was sealed under it unreadable, backups of the
app database included. A destroyed key leaves a tombstone (an empty wrapped key) so that
nothing is ever sealed for that request again under a fresh key.

Unwrapped keys are cached (bounded LRU with a time to live): sealing is on the hot path, and
the TTL bounds how long another process keeps using a key this process has destroyed. A KEK
rotation does not touch the cache: the data keys themselves never change, only their wrapping.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.kek import KekRing

DATA_KEY_BYTES = 32
TOMBSTONE = b""  # the stored value of a destroyed key
_WRAP_AAD = b"rightsflow/data-key|"
DESTROYED = "the request's data key was destroyed (its records were purged)"


@dataclass(frozen=True, repr=False)
class StoredKey:
    """A wrapped key and the KEK version that wrapped it (None for a tombstone)."""

    wrapped: bytes
    kek_version: int | None


class KeyStore(Protocol):
    """Where wrapped data keys live (storage/key_store.py: the key database)."""

    def get(self, request_id: str) -> StoredKey | None:
        """The wrapped key (wrapped == TOMBSTONE if it was destroyed), None if there never
        was one."""
        ...

    def add(self, request_id: str, wrapped: bytes, kek_version: int) -> StoredKey:
        """Store `wrapped` unless the request already has a row; return what is stored then
        (another process's key if it won the race, or TOMBSTONE)."""
        ...

    def destroy(self, request_id: str) -> bool:
        """Empty the stored key (or record a tombstone if there is none); True if a live key
        was destroyed now."""
        ...


class _State(Enum):
    DESTROYED = "destroyed"
    ABSENT = "absent"


_Entry = AESGCM | _State


def destroyed_error() -> RightsflowError:
    return RightsflowError(DESTROYED)


class DataKeys:
    """Find, create and destroy request data keys; thread-safe."""

    def __init__(
        self,
        store: KeyStore,
        ring: KekRing,
        capacity: int = 10_000,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ring = ring
        self._capacity = capacity
        self._ttl = ttl_s
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, _Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def for_sealing(self, request_id: str) -> AESGCM:
        """The request's key, created on first use; refused once the key was destroyed."""
        entry = self._entry(request_id)
        if entry is _State.ABSENT:
            version, kek = self._ring.active()
            wrapped = kek.wrap(secrets.token_bytes(DATA_KEY_BYTES), aad(request_id))
            entry = self._remember(request_id, self._store.add(request_id, wrapped, version))
        if entry is _State.DESTROYED:
            raise RightsflowError(f"{DESTROYED}: nothing more is sealed for it")
        if not isinstance(entry, AESGCM):  # ABSENT again: a store that lost what it added
            raise RightsflowError("the request's data key could not be stored")
        return entry

    def for_opening(self, request_id: str) -> AESGCM:
        entry = self._entry(request_id)
        if entry is _State.ABSENT:  # cached absence may be stale: another process made one
            entry = self._remember(request_id, self._store.get(request_id))
        if entry is _State.DESTROYED:
            raise destroyed_error()
        if entry is _State.ABSENT:
            raise RightsflowError("sealed data cannot be opened: the request has no data key")
        return entry

    def is_destroyed(self, request_id: str) -> bool:
        return self._entry(request_id) is _State.DESTROYED

    def destroy(self, request_id: str) -> bool:
        destroyed = self._store.destroy(request_id)
        self._put(request_id, _State.DESTROYED)
        return destroyed

    def _entry(self, request_id: str) -> _Entry:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(request_id)
            if cached is not None and cached[0] > now:
                self._cache.move_to_end(request_id)
                return cached[1]
        return self._remember(request_id, self._store.get(request_id))

    def _remember(self, request_id: str, stored: StoredKey | None) -> _Entry:
        if stored is None:
            entry: _Entry = _State.ABSENT
        elif stored.wrapped == TOMBSTONE or stored.kek_version is None:
            entry = _State.DESTROYED
        else:
            kek = self._ring.for_version(stored.kek_version)
            entry = AESGCM(kek.unwrap(stored.wrapped, aad(request_id)))
        self._put(request_id, entry)
        return entry

    def _put(self, request_id: str, entry: _Entry) -> None:
        with self._lock:
            self._cache[request_id] = (self._clock() + self._ttl, entry)
            self._cache.move_to_end(request_id)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)


def aad(request_id: str) -> bytes:
    return _WRAP_AAD + request_id.encode("utf-8")
