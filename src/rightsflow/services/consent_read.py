"""The consent read API's use cases: a subject's current state as a JSON document, cached.

The cache (platform.consent_cache: in-process, or Redis at scale) holds one regime-independent
document per subject, with a version: the newest change it holds, in microseconds
(domain.consent_state.StoredConsent.version). `refresh` is called by every writer after its
transaction commits (the ledger after a choice, propagation after a delivery changes): it reads
the database and *puts* the document (write-through, never just a delete). The cache only
replaces an older version, so a slow reader that read the database before the write cannot put
its stale document back afterwards. A miss reads the database and puts the same way.

The per-regime defaults of purposes the subject never chose about are merged at read time from
the purpose catalogue (kept in-process for CATALOGUE_TTL seconds: it is small and rarely
changes), so one cached document serves every regime. Merging is byte concatenation: the cached
document is the stored purposes' JSON with a one-line header naming them (see `encode`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import structlog

from rightsflow.domain.consent import (
    REGIME_MODELS,
    Purpose,
    PurposeState,
    SubjectRef,
    consent_model,
)
from rightsflow.domain.consent_state import StoredConsent
from rightsflow.services.consent_read_ports import AsyncConsentCache
from rightsflow.services.identity_lookup import identity_hash
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

log = structlog.get_logger("rightsflow.consent_read")
CATALOGUE_TTL = 5.0  # seconds a purpose added or retired takes to show in defaults
KEY_PREFIX = "consent:v1:"


class NoConsentCache:
    """Holds nothing: every read goes to the database (settings.consent_cache_off, to measure
    what the cache saves)."""

    def get(self, key: str) -> bytes | None:  # noqa: ARG002 (the port's shape)
        return None

    def put(self, key: str, version: int, document: bytes) -> None:
        pass

    def forget(self, key: str) -> None:
        pass


def cache_key(subject_hash: str) -> str:
    return KEY_PREFIX + subject_hash


def refresh(platform: Platform, subject_hash: str) -> bytes:
    """Put the subject's current stored state in the cache (and answer its document). Call it
    after a committed write that changes what the document shows (a choice, a GPC signal, a
    delivery's status); a cache miss calls it too."""
    with platform.uow() as uow:
        stored = uow.consent_states.state(subject_hash)
    return put_state(platform, stored)


def refresh_with(platform: Platform, uow: UnitOfWork, subject_hash: str) -> None:
    """`refresh` on a unit of work the writer already holds, right after its `commit()` (it
    stays usable): saves a connection checkout and a transaction on the write path."""
    put_state(platform, uow.consent_states.state(subject_hash))


def put_state(platform: Platform, stored: StoredConsent) -> bytes:
    """Put a subject's stored state, read after its last write, in the cache; its document."""
    document = encode(stored)
    platform.consent_cache.put(cache_key(stored.subject_hash), stored.version, document)
    return document


def subject_hash(platform: Platform, subject: SubjectRef) -> str:
    return identity_hash(platform.vault, subject.kind.value, subject.value)


@functools.cache
def _reads_async(kind: type) -> bool:
    """Whether a cache class is an AsyncConsentCache (asked once per class: an isinstance
    check of a Protocol costs more than an in-process cache hit)."""
    return callable(getattr(kind, "aget", None))


async def cached_async(platform: Platform, subject_hash: str, regime: str) -> bytes | None:
    """`cached` for an event loop: an in-process cache is read in place, Redis without
    blocking (AsyncConsentCache)."""
    catalogue = _catalogues.peek(platform)
    if catalogue is None:
        return None
    if _catalogues.claim(platform):  # due: reloaded in the background, this one serves now
        asyncio.get_running_loop().run_in_executor(None, _catalogues.reload_quietly, platform)
    cache, key = platform.consent_cache, cache_key(subject_hash)
    if _reads_async(type(cache)):
        document = await cast("AsyncConsentCache", cache).aget(key)
    else:
        document = cache.get(key)
    return None if document is None else _render(document, regime, catalogue)


async def current_async(platform: Platform, subject_hash: str, regime: str) -> bytes:
    """`current` for an event loop: a cache hit is answered in place (a thread hop costs more
    than the read); a miss reads the database in a thread."""
    body = await cached_async(platform, subject_hash, regime)
    if body is None:
        body = await asyncio.to_thread(current, platform, subject_hash, regime)
    return body


def current(platform: Platform, subject_hash: str, regime: str) -> bytes:
    """The subject's current state under `regime`: from the cache, else the database."""
    consent_model(regime)  # InvalidInput naming the field before any read
    catalogue = _catalogues.get(platform)
    document = platform.consent_cache.get(cache_key(subject_hash))
    if document is None:
        document = refresh(platform, subject_hash)
    return _render(document, regime, catalogue)


def current_many(
    platform: Platform, subject_hashes: Sequence[str], regime: str
) -> dict[str, bytes]:
    """Many subjects' states in one database query (always fresh; the cache is not asked, as
    one query beats a round trip per subject)."""
    consent_model(regime)
    catalogue = _catalogues.get(platform)
    with platform.uow() as uow:
        stored = uow.consent_states.states(subject_hashes)
    return {h: _render(encode(s), regime, catalogue) for h, s in stored.items()}


# -- Rendering --------------------------------------------------------------------------------


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def _purpose_json(state: PurposeState) -> dict[str, Any]:
    notice = state.notice
    return {
        "granted": state.granted,
        "source": state.source.value,
        "notice": None if notice is None else {"key": notice.key, "version": notice.version},
        "updated_at": _time(state.updated_at),
        "default": False,
        "resolution": state.resolution,
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def encode(stored: StoredConsent) -> bytes:
    """The cached form: `<stored purpose keys, comma-separated>\\n<JSON members>`, where the
    members are an object's body left open inside "purposes" so defaults can be appended."""
    gpc = stored.gpc
    head = {
        "version": stored.version,
        "gpc": None if gpc is None else {"signal": gpc.signal, "at": _time(gpc.at)},
        "systems": [
            {"system": d.system, "status": d.status, "at": _time(d.updated_at)}
            for d in stored.systems
        ],
    }
    keys = sorted(stored.purposes)
    members = [_dumps(k) + b":" + _dumps(_purpose_json(stored.purposes[k])) for k in keys]
    body = _dumps(head)[1:-1] + b',"purposes":{' + b",".join(members)
    return ",".join(keys).encode() + b"\n" + body


def _render(document: bytes, regime: str, catalogue: _Catalogue) -> bytes:
    defaults = catalogue.defaults.get(regime)
    if defaults is None:
        consent_model(regime)  # raises InvalidInput naming the regime field
        defaults = {}
    return render(document, regime, defaults)


def render(document: bytes, regime: str, defaults: Mapping[bytes, bytes]) -> bytes:
    """The answer: a cached document with the regime's defaults (`default_members`) for the
    purposes it has no choice for."""
    header, _, body = document.partition(b"\n")
    stored = set(header.split(b",")) if header else set()
    missing = [fragment for key, fragment in defaults.items() if key not in stored]
    if missing and stored:
        body += b","
    return b'{"regime":"' + regime.encode() + b'",' + body + b",".join(missing) + b"}}"


# -- The purpose catalogue, kept briefly --------------------------------------------------------


@dataclass(frozen=True)
class _Catalogue:
    # regime -> purpose key (bytes) -> the rendered default member `"key":{...}`
    defaults: Mapping[str, Mapping[bytes, bytes]]
    expires: float


def default_members(purposes: Sequence[Purpose], regime: str) -> dict[bytes, bytes]:
    members: dict[bytes, bytes] = {}
    for purpose in purposes:
        if purpose.retired:
            continue
        value = {
            "granted": purpose.default_granted(regime),
            "source": None,
            "notice": None,
            "updated_at": None,
            "default": True,
            "resolution": None,
        }
        members[purpose.key.encode()] = _dumps(purpose.key) + b":" + _dumps(value)
    return members


class _Catalogues:
    """One catalogue per Platform (tests build many), reloaded every CATALOGUE_TTL by one
    caller at a time while the others go on with the one held (no stampede of reloads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, _Catalogue] = {}
        self._loading: set[int] = set()

    def peek(self, platform: Platform) -> _Catalogue | None:
        """The one held, even if due for a reload (None: never loaded)."""
        return self._held.get(id(platform))

    def claim(self, platform: Platform) -> bool:
        """True for the one caller that should reload a catalogue that is due."""
        held = self._held.get(id(platform))
        if held is not None and held.expires > time.monotonic():
            return False
        with self._lock:
            if id(platform) in self._loading:
                return False
            self._loading.add(id(platform))
            return True

    def get(self, platform: Platform) -> _Catalogue:
        held = self.peek(platform)
        if held is None or self.claim(platform):
            return self.reload(platform)
        return held

    def reload(self, platform: Platform) -> _Catalogue:
        try:
            with platform.uow() as uow:
                purposes = uow.consent_states.purposes()
            loaded = _Catalogue(
                defaults={r: default_members(purposes, r) for r in REGIME_MODELS},
                expires=time.monotonic() + CATALOGUE_TTL,
            )
            with self._lock:
                if id(platform) not in self._held:
                    weakref.finalize(platform, self._held.pop, id(platform), None)
                self._held[id(platform)] = loaded
            return loaded
        finally:
            with self._lock:
                self._loading.discard(id(platform))

    def reload_quietly(self, platform: Platform) -> None:
        """`reload` for a background thread: a failure keeps the held one (and is logged)."""
        try:
            self.reload(platform)
        except Exception:
            log.exception("consent_catalogue_reload_failed")

    def forget(self, platform: Platform) -> None:
        with self._lock:
            self._held.pop(id(platform), None)


_catalogues = _Catalogues()


def forget_catalogue(platform: Platform) -> None:
    """Drop the kept catalogue (the catalogue service may call it after a change)."""
    _catalogues.forget(platform)
