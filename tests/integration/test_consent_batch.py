"""Group commit of consent writes (services/consent_batch.py) on SQLite and PostgreSQL: 50
concurrent writes over 10 subjects leave exactly the ledger and state the one-by-one path
leaves for the same per-subject order, a bad write in a batch fails alone, and each caller
reads its own write back as soon as it returns."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rightsflow.bootstrap import Runtime
from rightsflow.domain.consent import Choice, ConsentWrite, Signals, Source, SubjectRef
from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.services import consent, consent_batch, consent_read, requests
from rightsflow.services.platform import Platform
from tests.support.db_runtime import DB_KINDS, runtime_on

WINDOW_MS = 5.0
PURPOSES = ("analytics", "personalisation", "advertising")


@pytest.fixture(params=DB_KINDS)
def make_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Runtime]]:
    """Fresh runtimes (each its own database) of the parametrised kind."""
    numbers = itertools.count()
    with ExitStack() as made:

        def make() -> Runtime:
            where = tmp_path / f"rt{next(numbers)}"
            return made.enter_context(runtime_on(request, where, customers=1, prefix="batch"))

        yield make


def counting(platform: Platform, hold_first_s: float = 0.0) -> tuple[Platform, list[int]]:
    """The platform with its units of work counted (how many transactions the writes took).

    `hold_first_s` delays the first one, so that on a loaded machine the other writers are
    queued behind the first batch (one runs at a time) rather than arriving one by one."""
    opened = [0]
    factory = platform.uow

    def uow() -> Any:
        opened[0] += 1
        if opened[0] == 1:
            time.sleep(hold_first_s)
        return factory()

    return dataclasses.replace(platform, uow=uow), opened


def the_writes() -> list[ConsentWrite]:
    """50 writes over 10 subjects mixing sources, regimes and GPC (so resolution depends on
    what the subject's earlier writes left)."""
    writes = []
    for n in range(50):
        subject, step = n % 10, n // 10
        regime = "ccpa" if subject % 2 else "gdpr"
        gpc = (n * 7) % 5 == 0
        choices = tuple(
            Choice(p, (n + i + step) % 3 != 0) for i, p in enumerate(PURPOSES[: 1 + n % 3])
        )
        writes.append(
            ConsentWrite(
                subject=SubjectRef.parse(f"user_id:batch-{subject}"),
                choices=choices,
                source=Source.PREFERENCES if step % 2 else Source.BANNER,
                regime=regime,
                signals=Signals(gpc=gpc),
                confirmed_over_gpc=step == 3,
            )
        )
    return writes


def concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, released together; its result or its exception."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def ledger(platform: Platform, subject: SubjectRef) -> list[tuple[Any, ...]]:
    page = consent.history(platform, subject, None, 200)
    return [
        (r.source, r.regime, r.gpc, tuple(
            (e.purpose, e.granted, e.effective, e.source, e.resolution) for e in entries
        ))
        for r, entries in page.items
    ]  # fmt: skip


def state(platform: Platform, subject: SubjectRef) -> dict[str, tuple[Any, ...]]:
    with platform.uow() as uow:
        saved = uow.consent.state(consent_read.subject_hash(platform, subject))
    return {k: (s.granted, s.source, s.resolution) for k, s in saved.items()}


def read_back(platform: Platform, outcome: consent.RecordOutcome) -> bool:
    """Whether the cached state shows this write (or a later one) for each purpose it set."""
    shown = json.loads(consent_read.current(platform, outcome.subject_hash, "gdpr"))["purposes"]
    for entry in outcome.entries:
        at = datetime.fromisoformat(shown[entry.purpose]["updated_at"].replace("Z", "+00:00"))
        if at < outcome.recorded_at:
            return False
    return True


def test_concurrent_writes_leave_the_sequential_ledger(
    make_runtime: Callable[[], Runtime],
) -> None:
    batched, opened = counting(make_runtime().platform, hold_first_s=0.5)
    writes = the_writes()

    def write_and_read(w: ConsentWrite) -> tuple[consent.RecordOutcome, bool]:
        outcome = consent_batch.record(batched, w, WINDOW_MS)
        return outcome, read_back(batched, outcome)  # right after it returns

    results = concurrently([lambda w=w: write_and_read(w) for w in writes])
    assert all(isinstance(r, tuple) for r in results), results
    assert all(seen for _, seen in results)
    assert opened[0] < 40, "the writes were not batched"  # one by one: 100 (write + refresh)
    # The same writes one by one, each subject's in the order the batches committed them.
    by_record = {outcome.record_id: w for w, (outcome, _) in zip(writes, results, strict=True)}
    single = make_runtime().platform
    for subject in sorted({w.subject for w in writes}, key=lambda s: s.value):
        page = consent.history(batched, subject, None, 200)
        assert len(page.items) == 5
        for record, _entries in page.items:
            consent.record(single, by_record[record.id])
        assert ledger(batched, subject) == ledger(single, subject)
        assert state(batched, subject) == state(single, subject)
        assert state(batched, subject)  # something was stored


def test_a_bad_write_in_a_batch_fails_alone(make_runtime: Callable[[], Runtime]) -> None:
    platform, opened = counting(make_runtime().platform)
    requests.submit(platform, requests.NewRequest("erasure", {"user_id": "erasing"}, "gdpr"))
    good = [
        ConsentWrite(SubjectRef.parse(f"user_id:ok-{n}"), (Choice("analytics", True),),
                     Source.API, "gdpr")
        for n in range(8)
    ]  # fmt: skip
    unknown = ConsentWrite(SubjectRef.parse("user_id:ok-0"), (Choice("telepathy", True),),
                           Source.API, "gdpr")  # fmt: skip
    erasing = ConsentWrite(SubjectRef.parse("user_id:erasing"), (Choice("analytics", True),),
                           Source.API, "gdpr")  # fmt: skip
    regime = dataclasses.replace(good[1], regime="mars")
    writes = [*good, unknown, erasing, regime]
    results = concurrently([lambda w=w: consent_batch.record(platform, w, WINDOW_MS)
                            for w in writes])  # fmt: skip
    assert [type(r) for r in results[8:]] == [InvalidInput, Conflict, InvalidInput]
    assert all(isinstance(r, consent.RecordOutcome) for r in results[:8]), results
    assert all(r.entries[0].effective for r in results[:8])
    assert opened[0] < 20, "the writes were not batched"
    for w in good:
        assert len(consent.history(platform, w.subject, None, 10).items) == 1
    assert consent.history(platform, erasing.subject, None, 10).items == []


def test_a_lone_write_and_batching_off(make_runtime: Callable[[], Runtime]) -> None:
    platform = make_runtime().platform
    write = the_writes()[0]
    for window in (WINDOW_MS, 0.0):
        outcome = consent_batch.record(platform, write, window)
        assert read_back(platform, outcome)
    assert len(consent.history(platform, write.subject, None, 10).items) == 2
