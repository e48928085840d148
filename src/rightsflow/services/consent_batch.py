"""Group commit of concurrent consent writes (setting `consent_write_batch_ms`; 0: off).

A write alone costs about ten statements and a commit (services/consent.py `record`); most of
that is per transaction, not per write. Here API worker threads submit their write and wait;
one of them (the leader) takes up to MAX_BATCH queued writes and records them in ONE
transaction: one erasure check for every identity, the catalogue from its in-process copy, the
subject locks in one statement (sorted keys, so two batches cannot deadlock), one state read,
conflict resolution in memory in submission order (a second write for a subject in the batch
sees the first's result), one executemany per table, one commit, then one bulk state query
that refreshes the read cache before any caller returns (read-your-writes).

Waiting: a leader starts at once when it is alone and the previous batch was one write (a
lone writer pays nothing); under concurrency it waits up to the window for as many writes as
the previous batch had. While a batch runs the next writes queue, so batches grow with load.

A write that is invalid (422) or refused (409, erasure in progress) fails alone; the batch
goes on without it. If the batch transaction fails for any other reason, its writes are run
one by one on the single-write path, so each caller gets its own answer.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from rightsflow.domain.consent import (
    ConsentRecordView,
    ConsentWrite,
    Purpose,
    PurposeState,
    consent_model,
)
from rightsflow.domain.consent_rules import Outcome
from rightsflow.domain.consent_signals import Decoded
from rightsflow.domain.errors import Conflict, RightsflowError
from rightsflow.services import consent, consent_read
from rightsflow.services.consent import RecordOutcome
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

log = structlog.get_logger("rightsflow.consent_batch")
MAX_BATCH = 200
MAX_RUNNING = 1  # batches in flight at once (2 measured no better here: they share one GIL)


@dataclass(eq=False)
class _Pending:
    write: ConsentWrite
    outcome: RecordOutcome | None = None
    error: BaseException | None = None
    taken: bool = False  # in a batch (its caller no longer may lead)
    done: bool = False

    def result(self) -> RecordOutcome:
        if self.error is not None:
            raise self.error
        if self.outcome is None:  # not reached: done without an error means recorded
            raise RuntimeError("a consent write ended without an outcome")
        return self.outcome


@dataclass(eq=False)
class _Ready:
    """A write that passed the checks needing no database."""

    pending: _Pending
    digest: str
    decoded: tuple[Decoded | None, Decoded | None]


@dataclass
class _Made:
    ready: _Ready
    draft: consent.Draft
    outcome: RecordOutcome | None = None


class ConsentBatcher:
    """One per Platform and process: `record` blocks its thread until the write is committed
    (or failed) and the cache refreshed."""

    def __init__(
        self,
        platform: Platform,
        window_ms: float,
        max_batch: int = MAX_BATCH,
        max_running: int = MAX_RUNNING,
    ) -> None:
        self._platform = platform
        self._window = window_ms / 1000
        self._max = max_batch
        self._max_running = max_running
        lock = threading.Lock()
        self._turn = threading.Condition(lock)  # waiting writers: done, or lead
        self._arrived = threading.Condition(lock)  # a gathering leader: more writes queued
        self._queue: list[_Pending] = []
        self._gathering = False  # one leader gathers at a time; its batch then runs
        self._running = 0
        self._last_size = 1

    def record(self, write: ConsentWrite) -> RecordOutcome:
        mine = _Pending(write)
        with self._turn:
            self._queue.append(mine)
            self._arrived.notify()
        while True:
            with self._turn:
                while not mine.done and not self._may_lead(mine):
                    self._turn.wait()
                if mine.done:
                    return mine.result()
                self._gathering = True
            self._lead()

    def _lead(self) -> None:
        with self._turn:
            self._gather()
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            for pending in batch:
                pending.taken = True
            self._last_size = len(batch)
            self._gathering, self._running = False, self._running + 1
            self._turn.notify_all()  # the next leader may gather while this batch runs
        try:
            run_batch(self._platform, batch)
        except Exception as error:  # a bug here must not leave callers waiting forever
            for pending in batch:
                if pending.outcome is None and pending.error is None:
                    pending.error = error
        finally:
            with self._turn:
                for pending in batch:
                    pending.done = True
                self._running -= 1
                self._turn.notify_all()

    def _may_lead(self, mine: _Pending) -> bool:
        return not (mine.taken or self._gathering or self._running >= self._max_running)

    def _gather(self) -> None:
        """Wait (lock held, released while waiting) up to the window for as many writes as
        the last batch had; not at all for a lone writer."""
        want = min(max(self._last_size, len(self._queue)), self._max)
        deadline = time.monotonic() + self._window
        while len(self._queue) < want and (left := deadline - time.monotonic()) > 0:
            self._arrived.wait(left)


class _Batchers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, ConsentBatcher] = {}

    def get(self, platform: Platform, window_ms: float) -> ConsentBatcher:
        held = self._held.get(id(platform))
        if held is not None:
            return held
        with self._lock:
            if id(platform) not in self._held:
                weakref.finalize(platform, self._held.pop, id(platform), None)
                self._held[id(platform)] = ConsentBatcher(platform, window_ms)
            return self._held[id(platform)]


_batchers = _Batchers()


def record(platform: Platform, write: ConsentWrite, window_ms: float) -> RecordOutcome:
    """consent.record, batched with concurrent writes when `window_ms` > 0."""
    if window_ms <= 0:
        return consent.record(platform, write)
    return _batchers.get(platform, window_ms).record(write)


def run_batch(platform: Platform, batch: Sequence[_Pending]) -> None:
    """Record the batch's writes, setting each one's outcome or error."""
    ready = [r for r in (_prepare(platform, p) for p in batch) if r is not None]
    if not ready:
        return
    made: list[_Made] = []
    committed = False
    try:
        with platform.uow() as uow:
            made, failures = _write(platform, uow, ready)
            uow.commit()
            committed = True
            for pending, error in failures:
                pending.error = error
            _refresh_with(platform, uow, {m.ready.digest for m in made})
    except Exception as error:
        if committed:  # each caller learns its write is in but the cache may be behind
            for m in made:
                m.ready.pending.error = error
            return
        log.warning("consent batch failed: writing one by one", writes=len(ready))
        for r in ready:
            _settle(platform, r.pending)
        return
    for m in made:
        m.ready.pending.outcome = m.outcome


def _prepare(platform: Platform, pending: _Pending) -> _Ready | None:
    try:
        consent_model(pending.write.regime)
        digest = consent_read.subject_hash(platform, pending.write.subject)
        return _Ready(pending, digest, consent.decode_signals(pending.write))
    except RightsflowError as error:
        pending.error = error
        return None


def _settle(platform: Platform, pending: _Pending) -> None:
    try:
        pending.outcome = consent.record(platform, pending.write)
    except Exception as error:
        pending.error = error


def _write(
    platform: Platform, uow: UnitOfWork, ready: Sequence[_Ready]
) -> tuple[list[_Made], list[tuple[_Pending, RightsflowError]]]:
    failures: list[tuple[_Pending, RightsflowError]] = []
    erasing = uow.consent.erasing({(r.pending.write.subject.kind.value, r.digest) for r in ready})
    purposes = consent.catalogue(platform, uow, [c for r in ready for c in r.pending.write.choices])
    valid: list[_Ready] = []
    for r in ready:
        try:
            _check(uow, r, erasing, purposes)
            valid.append(r)
        except RightsflowError as error:
            failures.append((r.pending, error))
    states = uow.consent.lock_states({r.digest for r in valid})
    made: list[_Made] = []
    for r in valid:
        try:
            made.append(_resolve(platform, r, purposes, states))
        except RightsflowError as error:
            failures.append((r.pending, error))
    drafts = [m.draft for m in made]
    stored = uow.consent.append_many([(d.view, d.entries, d.sealed) for d in drafts])
    for m, ids in zip(made, stored, strict=True):
        m.outcome = m.draft.outcome(ids)
        consent.observe(uow, m.ready.pending.write, m.draft.view)
    return made, failures


def _check(
    uow: UnitOfWork,
    r: _Ready,
    erasing: set[tuple[str, str]],
    purposes: Mapping[str, Purpose],
) -> None:
    """The single path's checks, in its order (the same error for the same write)."""
    write = r.pending.write
    if (write.subject.kind.value, r.digest) in erasing:
        raise Conflict(consent.UNDER_ERASURE)
    consent.check_write(uow, write, purposes)


def _resolve(
    platform: Platform,
    r: _Ready,
    purposes: Mapping[str, Purpose],
    states: dict[str, tuple[dict[str, PurposeState], datetime | None]],
) -> _Made:
    """One write against its subject's state as the writes before it in the batch left it."""
    saved = states[r.digest][0]
    made = consent.draft(
        platform,
        r.pending.write,
        purposes,
        digest=r.digest,
        decoded=r.decoded,
        state=states[r.digest],
    )
    states[r.digest] = (_applied(saved, made.view, made.outcomes), made.view.recorded_at)
    return _Made(r, made)


def _applied(
    saved: Mapping[str, PurposeState], view: ConsentRecordView, outcomes: Sequence[Outcome]
) -> dict[str, PurposeState]:
    """The state after a write, as the state upsert stores it (entry ids are not needed by
    resolution; they are assigned at insert)."""
    state = dict(saved)
    for o in outcomes:
        state[o.purpose] = PurposeState(
            purpose=o.purpose,
            granted=o.effective,
            source=o.source,
            updated_at=view.recorded_at,
            entry_id=0,
            notice=view.notice,
            resolution=o.resolution,
        )
    return state


def _refresh_with(platform: Platform, uow: UnitOfWork, digests: set[str]) -> None:
    """consent_read.refresh_with for every subject of the batch, in one query (on the batch's
    unit of work, after its commit)."""
    if not digests:
        return
    for state in uow.consent_states.states(sorted(digests)).values():
        consent_read.put_state(platform, state)
