"""The audit hash chain: canonical bytes, and a verifier that names the first broken event."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rightsflow.domain.audit_chain import (
    GENESIS,
    AuditFilter,
    StoredEvent,
    canonical_bytes,
    chain,
    event_hash,
    format_time,
    verify_chain,
)
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.records import AuditEvent

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RID = "8a6c3a0e-1f5b-4c1e-9d43-0f7c8f9b1a2c"


def trail(n: int, start: int = 1, prev: str | None = None) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    for i in range(start, start + n):
        at = T0 + timedelta(seconds=i)
        event = AuditEvent(RID, f"step.{i}", at, detail={"n": i, "ids": ["a", "b"]})
        stored = chain(i, event, prev)
        events.append(stored)
        prev = stored.hash
    return events


def rehash(event: StoredEvent) -> StoredEvent:
    return replace(event, hash=event_hash(event))


def test_canonical_form_is_sorted_compact_utf8_with_microsecond_utc() -> None:
    at = datetime(2026, 3, 1, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    event = StoredEvent(7, RID, "x", at, "operator:zoë", detail={"b": 1, "a": [1]}, prev_hash="p")
    text = canonical_bytes(event).decode("utf-8")
    assert text == (
        '{"action":"x","actor":"operator:zoë","at":"2026-03-01T12:00:00.000000Z",'
        '"detail":{"a":[1],"b":1},"from_status":null,"id":7,"prev_hash":"p",'
        f'"request_id":"{RID}","to_status":null}}'
    )
    assert event_hash(event) == hashlib.sha256(text.encode()).hexdigest()
    assert json.loads(text)["at"] == format_time(at)


def test_the_first_event_chains_to_genesis_and_each_to_the_one_before() -> None:
    events = trail(3)
    assert events[0].prev_hash == GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = verify_chain(events)
    assert report.intact
    assert (report.events, report.legacy, report.head_id) == (3, 0, 3)
    assert report.head_hash == events[-1].hash


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 1, 1))  # noqa: DTZ001


def test_empty_trail_is_intact() -> None:
    report = verify_chain([])
    assert report.intact
    assert (report.events, report.head_id) == (0, None)


def test_an_edited_event_is_named() -> None:
    events = trail(5)
    events[2] = replace(events[2], detail={"n": 999, "ids": ["a", "b"]})
    broken = verify_chain(events).broken
    assert broken is not None
    assert (broken.event_id, broken.kind, broken.action) == (3, "edited", "step.3")
    assert verify_chain(events).events == 2


def test_an_edit_with_a_recomputed_hash_names_the_rewritten_event() -> None:
    events = trail(5)
    events[1] = rehash(replace(events[1], actor="operator:mallory"))
    broken = verify_chain(events).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (2, "edited")
    assert "event 3 still chains" in broken.reason


def test_a_deleted_event_is_named_by_the_gap() -> None:
    events = trail(6)
    del events[2]
    broken = verify_chain(events).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (4, "deleted")
    assert "ids 3" in broken.reason
    del events[2:4]  # now 3, 4 and 5 are gone
    wider = verify_chain(events).broken
    assert wider is not None
    assert "ids 3-5" in wider.reason


def test_deleting_the_first_events_is_seen() -> None:
    broken = verify_chain(trail(4)[2:]).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (3, "deleted")


@pytest.mark.parametrize("field", ["id", "at"])
@pytest.mark.parametrize("distance", [1, 3])
def test_swapped_ids_or_times_are_a_reordering(field: str, distance: int) -> None:
    events = trail(8)
    a, b = events[2], events[2 + distance]
    if field == "id":  # rows keep their content and hash but trade places in id order
        events[2], events[2 + distance] = replace(b, id=a.id), replace(a, id=b.id)
    else:
        events[2], events[2 + distance] = replace(a, at=b.at), replace(b, at=a.at)
    broken = verify_chain(events).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (3, "reordered")
    assert f"{field if field == 'id' else 'time'} was swapped with event {3 + distance}" in (
        broken.reason
    )


def test_a_swap_beyond_the_lookahead_is_still_a_break() -> None:
    events = trail(8)
    events[1], events[6] = replace(events[6], id=2), replace(events[1], id=7)
    broken = verify_chain(events, lookahead=2).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (2, "edited")


def test_a_forged_event_that_does_not_chain_is_named() -> None:
    events = trail(5)
    forged = rehash(StoredEvent(6, RID, "package.downloaded", T0, "operator:x", prev_hash="f" * 64))
    broken = verify_chain([*events, forged]).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (6, "inserted")


def test_a_forged_event_chained_to_an_older_event_is_named() -> None:
    events = trail(5)
    forged = rehash(StoredEvent(6, RID, "x", T0, "system", prev_hash=events[1].hash))
    broken = verify_chain([*events, forged]).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (6, "inserted")
    assert "chains to event 2" in broken.reason


def test_an_event_slipped_in_between_is_named() -> None:
    # Ids need not be contiguous (a rolled-back sequence value), so a forged one fits between.
    spaced: list[StoredEvent] = []
    for i in (10, 20, 30, 40):
        spaced.append(chain(i, AuditEvent(RID, "step", T0), spaced[-1].hash if spaced else None))
    forged = rehash(StoredEvent(25, RID, "x", T0, "system", prev_hash="e" * 64))
    broken = verify_chain([*spaced[:2], forged, *spaced[2:]]).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (25, "inserted")


def test_legacy_events_form_a_prefix_and_are_counted() -> None:
    legacy = [StoredEvent(i, RID, "old", T0, "system") for i in (1, 2, 3)]
    chained = trail(2, start=4)
    report = verify_chain([*legacy, *chained])
    assert report.intact
    assert (report.events, report.legacy, report.head_id) == (5, 3, 5)
    late = StoredEvent(6, RID, "old", T0, "system")
    broken = verify_chain([*legacy, *chained, late]).broken
    assert broken is not None
    assert (broken.event_id, broken.kind) == (6, "unhashed")
    assert "chain began at event 4" in broken.reason


def test_only_legacy_events_is_intact_with_no_head() -> None:
    report = verify_chain([StoredEvent(1, RID, "old", T0, "system")])
    assert report.intact
    assert (report.legacy, report.head_id) == (1, None)


def test_filters_need_zoned_times_in_order() -> None:
    with pytest.raises(InvalidInput) as naive:
        AuditFilter(since=datetime(2026, 1, 1))  # noqa: DTZ001
    assert naive.value.field == "since"
    with pytest.raises(InvalidInput) as order:
        AuditFilter(since=T0, until=T0)
    assert order.value.field == "until"
