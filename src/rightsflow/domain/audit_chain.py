"""The audit trail as a hash chain: stored events, their canonical bytes and hash, and a
verifier that walks the trail in id order and names the first broken event.

Each event stores `prev_hash` (the hash of the event before it in id order, GENESIS for the
first) and `hash` = sha256 hex of the canonical JSON of {id, request_id, action, at, actor,
from_status, to_status, detail, prev_hash}: sorted keys, no whitespace, UTF-8, `at` as
ISO-8601 UTC with microseconds. Anyone holding an export can recompute it.

Events written before the chain existed (schema revision 0004) have no hash; they may only
form a prefix of the trail. The chain cannot see the newest events being cut off: keep the
head hash that `verify_chain` reports somewhere else if that matters.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.records import AuditEvent

GENESIS = "0" * 64
# How far ahead the verifier looks for the partner of a swapped event, and how many recent
# hashes it remembers to recognise an event chained to an older one (both bound memory).
LOOKAHEAD = 64
RECENT_HASHES = 4096

BreakKind = Literal["edited", "deleted", "reordered", "inserted", "unhashed"]


@dataclass(frozen=True)
class StoredEvent:
    """An audit event as stored: its id in the trail and its place in the chain."""

    id: int
    request_id: str
    action: str
    at: datetime
    actor: str
    from_status: str | None = None
    to_status: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str | None = None
    hash: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list or export; `since <= at < until`. Times must be timezone-aware."""

    request_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value: datetime | None = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise InvalidInput("a time needs a timezone (e.g. Z or +02:00)", field=name)
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput("until must be later than since", field="until")


def format_time(at: datetime) -> str:
    """ISO-8601 UTC with microseconds and a `Z`: the only time form the hash covers."""
    if at.utcoffset() is None:
        raise ValueError("naive datetime: audit times must be timezone-aware")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_bytes(event: StoredEvent) -> bytes:
    """The bytes `hash` is computed over (everything but `hash` itself)."""
    body = {
        "id": event.id,
        "request_id": event.request_id,
        "action": event.action,
        "at": format_time(event.at),
        "actor": event.actor,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
    }
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def event_hash(event: StoredEvent) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def chain(event_id: int, event: AuditEvent, prev_hash: str | None) -> StoredEvent:
    """`event` as the trail's event `event_id`, chained to `prev_hash` (None: the first)."""
    stored = StoredEvent(
        id=event_id,
        request_id=event.request_id,
        action=event.action,
        at=event.at,
        actor=event.actor,
        from_status=event.from_status,
        to_status=event.to_status,
        detail=dict(event.detail),
        prev_hash=prev_hash or GENESIS,
    )
    return replace(stored, hash=event_hash(stored))


@dataclass(frozen=True)
class ChainBreak:
    """The first event where the chain does not hold, and what is wrong there."""

    event_id: int
    at: datetime
    action: str
    kind: BreakKind
    reason: str  # ids and field names only


@dataclass(frozen=True)
class ChainReport:
    events: int  # intact events read (legacy ones included), all of them if no break
    legacy: int  # events from before the chain began (no hash), skipped
    head_id: int | None = None  # the last chained event read (none after a break there)
    head_hash: str | None = None
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_chain(events: Iterable[StoredEvent], lookahead: int = LOOKAHEAD) -> ChainReport:
    """Walk `events` (in id order) and report the first break. Reads lazily: memory stays
    bounded by `lookahead` and RECENT_HASHES whatever the trail's length."""
    return _Verifier().run(_with_lookahead(events, lookahead))


def _with_lookahead(
    events: Iterable[StoredEvent], size: int
) -> Iterator[tuple[StoredEvent, Sequence[StoredEvent]]]:
    source = iter(events)
    window: deque[StoredEvent] = deque(islice(source, size + 1))
    while window:
        current = window.popleft()
        yield current, window
        following = next(source, None)
        if following is not None:
            window.append(following)


class _Verifier:
    def __init__(self) -> None:
        self.events = 0
        self.legacy = 0
        self.prev: StoredEvent | None = None
        self.first_chained: int | None = None
        self.recent: dict[str, int] = {}  # hash -> id, insertion ordered, bounded

    def run(self, walk: Iterable[tuple[StoredEvent, Sequence[StoredEvent]]]) -> ChainReport:
        for event, ahead in walk:
            broken = self.check(event, ahead)
            if broken is not None:
                return self.report(broken)
            self.accept(event)
        return self.report(None)

    def report(self, broken: ChainBreak | None) -> ChainReport:
        head = self.prev if self.prev is not None and self.prev.hash is not None else None
        events = self.events
        if broken is not None and head is not None and broken.event_id == head.id:
            events, head = events - 1, None  # the last event read is the broken one
        return ChainReport(
            events=events,
            legacy=self.legacy,
            head_id=None if head is None else head.id,
            head_hash=None if head is None else head.hash,
            broken=broken,
        )

    def accept(self, event: StoredEvent) -> None:
        self.events += 1
        if event.hash is None:
            self.legacy += 1
        else:
            self.first_chained = self.first_chained or event.id
            self.recent[event.hash] = event.id
            if len(self.recent) > RECENT_HASHES:
                del self.recent[next(iter(self.recent))]
        self.prev = event

    def expected_prev(self) -> str:
        prev = self.prev
        return prev.hash if prev is not None and prev.hash is not None else GENESIS

    def check(self, event: StoredEvent, ahead: Sequence[StoredEvent]) -> ChainBreak | None:
        if event.hash is None:
            if self.first_chained is None:
                return None
            began = self.first_chained
            return _break(event, "unhashed", f"no hash, after the chain began at event {began}")
        if event_hash(event) != event.hash:
            return _content_break(event, ahead)
        if event.prev_hash != self.expected_prev():
            return self.link_break(event, ahead)
        return None

    def link_break(self, event: StoredEvent, ahead: Sequence[StoredEvent]) -> ChainBreak:
        """`event` matches its own hash but does not chain to the event before it."""
        expected, prev = self.expected_prev(), self.prev
        after = ahead[0] if ahead else None
        if after is not None and after.prev_hash == expected:
            return _break(event, "inserted", "the events around it chain to each other, not to it")
        older = self.recent.get(event.prev_hash or "")
        if older is not None:
            return _break(event, "inserted", f"chains to event {older}, not to the one before it")
        if prev is None or prev.hash is None:
            return _break(event, "deleted", "the events before it are missing")
        if event.id > prev.id + 1:
            first, last = prev.id + 1, event.id - 1
            missing = f"{first}" if first == last else f"{first}-{last}"
            return _break(event, "deleted", f"events missing before it (ids {missing})")
        if after is not None and after.prev_hash == event.hash:
            # Its successor still trusts it, so the one rewritten is the event before it.
            reason = f"rewritten with a new hash: event {event.id} still chains to the old one"
            return _break(prev, "edited", reason)
        return _break(event, "inserted", f"does not chain to event {prev.id} before it")


def _content_break(event: StoredEvent, ahead: Sequence[StoredEvent]) -> ChainBreak:
    """`event` no longer matches its hash: swapped with a later event, or edited."""
    for other in ahead:
        if event_hash(replace(event, id=other.id)) == event.hash:
            return _break(event, "reordered", f"its id was swapped with event {other.id}")
        if other.at != event.at and event_hash(replace(event, at=other.at)) == event.hash:
            return _break(event, "reordered", f"its time was swapped with event {other.id}")
    return _break(event, "edited", "its content no longer matches its hash")


def _break(event: StoredEvent, kind: BreakKind, reason: str) -> ChainBreak:
    return ChainBreak(event.id, event.at, event.action, kind, reason)
