"""Reading the audit trail: list a page, export everything that matches, verify the chain.

Everything reads in id order, one page per short unit of work, so neither a long export nor a
verification of millions of events holds the trail in memory or a connection open while a
slow client reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from rightsflow.domain.audit_chain import (
    AuditFilter,
    ChainReport,
    StoredEvent,
    format_time,
    verify_chain,
)
from rightsflow.domain.errors import InvalidInput
from rightsflow.services.ports import UnitOfWork

PAGE_SIZE = 1000
UnitsOfWork = Callable[[], UnitOfWork]


def parse_time(text: str, field: str) -> datetime:
    """An ISO-8601 time with a timezone (`2026-03-01T12:00:00Z`); InvalidInput names `field`."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        message = "expected an ISO-8601 time, e.g. 2026-03-01T12:00:00Z"
        raise InvalidInput(message, field=field) from None
    if value.utcoffset() is None:
        raise InvalidInput("a time needs a timezone (e.g. Z or +02:00)", field=field)
    return value


def filter_from(
    request_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AuditFilter:
    """The filter given as text (API query, CLI options); InvalidInput names the bad field."""
    return AuditFilter(
        request_id=request_id,
        actor=actor,
        action=action,
        since=parse_time(since, "since") if since is not None else None,
        until=parse_time(until, "until") if until is not None else None,
    )


def page(
    uow: UnitsOfWork, filters: AuditFilter, after: int | None, limit: int
) -> Sequence[StoredEvent]:
    """Up to `limit` matching events after event id `after`, oldest first."""
    with uow() as unit:
        return unit.audit.search(filters, after, limit)


def events(
    uow: UnitsOfWork, filters: AuditFilter | None = None, page_size: int = PAGE_SIZE
) -> Iterator[StoredEvent]:
    """Every matching event, oldest first, fetched a page at a time."""
    wanted = filters or AuditFilter()
    after: int | None = None
    while True:
        batch = page(uow, wanted, after, page_size)
        yield from batch
        if len(batch) < page_size:
            return
        after = batch[-1].id


def verify(uow: UnitsOfWork, page_size: int = PAGE_SIZE) -> ChainReport:
    """Check the whole trail's hash chain; the report names the first broken event."""
    return verify_chain(events(uow, page_size=page_size))


def as_json(event: StoredEvent) -> dict[str, Any]:
    """An event with everything its hash covers, `at` in the hashed form: an export can be
    checked without us."""
    return {
        "id": event.id,
        "request_id": event.request_id,
        "action": event.action,
        "at": format_time(event.at),
        "actor": event.actor,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "detail": dict(event.detail),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def json_lines(stream: Iterator[StoredEvent]) -> Iterator[str]:
    """One compact JSON object per line, newline-terminated."""
    for event in stream:
        yield json.dumps(as_json(event), separators=(",", ":"), ensure_ascii=False) + "\n"
