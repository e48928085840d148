"""KEK rotation without downtime: add a version, re-wrap every live data key, retire the old.

1. `begin`: add KEK version N+1, unless a rotation is unfinished (live keys still wrapped under
   an older live version): then that rotation is resumed. So running `keys rotate` again after
   an interruption finishes the same rotation instead of starting another.
2. `rewrap`: a batch at a time (keyset on request id, one transaction per batch), unwrap with
   the old version and wrap with the new one, written with a compare-and-swap on the old
   wrapped bytes: a key destroyed meanwhile (crypto-shredding) stays destroyed, and two
   concurrent runs do each key once. A pass is repeated until it finds nothing: a process that
   has not seen the new version yet (rings refresh every `refresh_s`) may still wrap a new key
   under the old one.
3. `retire`: once no live key is wrapped under an older version and every process has had time
   to see the new one, the older versions are marked retired; nothing unwraps with them again.
   With a KMS, disable the old key version there afterwards.
The data keys never change, so sealed data, caches and readers are untouched throughout: a
reader unwraps with whichever version the row names, old or new, until the old is retired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.data_keys import StoredKey, aad
from rightsflow.storage.kek import KekProvider, KekRing
from rightsflow.storage.key_store import SqlKeyStore

DEFAULT_BATCH = 500


@dataclass
class RotationReport:
    """Counts only."""

    version: int  # the version keys are wrapped under now
    started: bool  # False: an unfinished rotation was resumed
    rewrapped: int = 0
    skipped: int = 0  # destroyed or re-wrapped by another run meanwhile
    retired: tuple[int, ...] = ()


def active_version(store: SqlKeyStore) -> int:
    live = [v.version for v in store.versions() if v.retired_at is None]
    if not live:
        raise RightsflowError("the key database has no live key-encryption key version")
    return max(live)


def pending(store: SqlKeyStore) -> int:
    """Live keys wrapped under versions older than the active one."""
    active = active_version(store)
    return sum(n for v, n in store.counts().items() if v is not None and v < active)


def begin(store: SqlKeyStore, provider: KekProvider, ring: KekRing) -> RotationReport:
    """Add a new version, or resume the unfinished rotation to the active one."""
    active = active_version(store)
    if pending(store):
        return RotationReport(active, started=False)
    version = max(v.version for v in store.versions()) + 1
    if not store.add_version(version, provider.new_key_id(version)):
        raise RightsflowError("another rotation added a version just now: run keys rotate again")
    ring.refresh()
    return RotationReport(version, started=True)


def rewrap(
    store: SqlKeyStore,
    ring: KekRing,
    report: RotationReport,
    batch: int = DEFAULT_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-wrap every live key under an older version with `report.version`, until none is
    left; `on_batch(n)` after each batch of n keys."""
    new = ring.for_version(report.version)
    while True:
        after: str | None = None
        seen = 0
        while rows := store.wrapped_under_older(report.version, after, batch):
            changes = [
                (rid, old, new.wrap(_unwrapped(ring, rid, old), aad(rid))) for rid, old in rows
            ]
            done = store.rewrap(changes, report.version)
            report.rewrapped += done
            report.skipped += len(rows) - done
            seen += len(rows)
            after = rows[-1][0]
            if on_batch is not None:
                on_batch(len(rows))
        if seen == 0:
            return report


def _unwrapped(ring: KekRing, request_id: str, old: StoredKey) -> bytes:
    if old.kek_version is None:  # pragma: no cover - tombstones are never selected
        raise RightsflowError("a destroyed key has nothing to re-wrap")
    return ring.for_version(old.kek_version).unwrap(old.wrapped, aad(request_id))


def retire_older(
    store: SqlKeyStore, refresh_s: float, now: datetime | None = None
) -> tuple[int, ...]:
    """Retire every live version older than the active one; refused while a key is still
    wrapped under one, or before every process can have seen the active version."""
    now = now or datetime.now(UTC)
    active = active_version(store)
    left = pending(store)
    if left:
        raise RightsflowError(f"{left} data keys are still wrapped under older versions")
    newest = next(v for v in store.versions() if v.version == active)
    ready = newest.created_at + timedelta(seconds=refresh_s)
    if now < ready:
        wait = int((ready - now).total_seconds()) + 1
        raise RightsflowError(
            f"version {active} is {int((now - newest.created_at).total_seconds())} s old: other "
            f"processes may still wrap keys under an older version; retire in {wait} s"
        )
    older = tuple(
        v.version for v in store.versions() if v.retired_at is None and v.version < active
    )
    for version in older:
        store.retire(version, now)
    return older
