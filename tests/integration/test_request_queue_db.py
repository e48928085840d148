"""The console's request queue on SQLite and a real PostgreSQL server: the database orders
every matching request (overdue, due soon, other open, closed; each by due date) and pages it,
with the status, type, regime and due filters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rightsflow.bootstrap import Runtime
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.records import RequestFilter
from rightsflow.domain.requests import TERMINAL, PrivacyRequest, RequestStatus, RequestType
from rightsflow.services import request_queue
from rightsflow.services.platform import Platform
from rightsflow.storage.uow import SqlUnitOfWork
from tests.support.db_runtime import DB_KINDS, runtime_on

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
S = RequestStatus


@pytest.fixture(params=DB_KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_on(request, tmp_path, customers=2, prefix="queue") as runtime:
        yield runtime


def _request(
    status: RequestStatus, due_in_days: float, kind: RequestType = RequestType.ACCESS
) -> PrivacyRequest:
    due = NOW + timedelta(days=due_in_days)
    return PrivacyRequest(
        id=str(uuid.uuid4()),
        type=kind,
        regime="gdpr" if kind is RequestType.ACCESS else "ccpa",
        policy_key="default",
        status=status,
        # The newest received are the closed ones: a newest-first window would show them first.
        received_at=NOW - timedelta(days=1 if status in TERMINAL else 60),
        due_at=due,
        identity_types=("email",),
    )


def _stored(runtime: Runtime, found: list[PrivacyRequest]) -> Platform:
    with SqlUnitOfWork(runtime.engine) as uow:
        for r in found:
            uow.requests.add(r, b"sealed")
        uow.commit()
    return replace(runtime.platform, clock=lambda: NOW)


def _all(platform: Platform, filters: RequestFilter, due: str | None, size: int) -> list[str]:
    """Every page of `size`, in order; the total is the same on each page."""
    shown: list[str] = []
    totals: set[int] = set()
    while True:
        page, total = request_queue.queue_page(platform, filters, due, len(shown), size)
        totals.add(total)
        shown.extend(r.id for r in page)
        if len(page) < size:
            assert totals == {len(shown)}
            return shown


def test_the_queue_orders_and_pages_every_request(runtime: Runtime) -> None:
    overdue = [_request(S.RECEIVED, -d) for d in (1, 9, 4)] + [_request(S.FAILED, -2)]
    soon = [_request(S.EXECUTING, d) for d in (6.5, 0.25, 3)]
    later = [_request(S.AWAITING_APPROVAL, d, RequestType.ERASURE) for d in (20, 8)]
    closed = [_request(s, d) for s, d in ((S.COMPLETED, -30), (S.DENIED, 1), (S.EXPIRED, -1))]
    platform = _stored(runtime, overdue + soon + later + closed)

    def by_due(group: list[PrivacyRequest]) -> list[str]:
        return [r.id for r in sorted(group, key=lambda r: r.due_at)]

    expected = by_due(overdue) + by_due(soon) + by_due(later) + by_due(closed)
    for size in (1, 3, 25):
        assert _all(platform, RequestFilter(), None, size) == expected
    assert _all(platform, RequestFilter(), "overdue", 2) == by_due(overdue)
    assert _all(platform, RequestFilter(), "due-soon", 2) == by_due(soon)
    erasures = RequestFilter(type=RequestType.ERASURE, regime="ccpa")
    assert _all(platform, erasures, None, 1) == by_due(later)
    assert _all(platform, RequestFilter(status=S.EXECUTING), "overdue", 5) == []
    page, total = request_queue.queue_page(platform, RequestFilter(), None, 100, 5)
    assert (list(page), total) == ([], len(expected))
    with pytest.raises(InvalidInput):
        request_queue.queue_page(platform, RequestFilter(), "tomorrow", 0, 5)
