"""What the console's dashboard and consent pages count: request activity over a period, the
overdue requests, and the current choices per consent purpose. Read-only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from rightsflow.domain.console_metrics import Activity, ChoiceCounts, activity
from rightsflow.domain.records import RequestFilter
from rightsflow.domain.reports import days_window
from rightsflow.domain.requests import TERMINAL, PrivacyRequest, RequestStatus
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

_PAGE = 500
OPEN = tuple(s for s in RequestStatus if s not in TERMINAL)  # still owed, failed ones too


def request_activity(platform: Platform, days: int, timezone: str = "UTC") -> Activity:
    """Requests received in the last `days` whole days (today included), in `timezone`."""
    now = platform.clock()
    last = now.date()
    window = days_window(last - timedelta(days=days - 1), last, timezone)
    with platform.uow() as uow:
        return activity(uow.reports.request_facts(window.start, window.end), window, now)


def _late(uow: UnitOfWork, status: RequestStatus, now: datetime) -> list[PrivacyRequest]:
    # Open requests are a small share of all requests (the rest are closed); page through
    # them by status with the request list's own index rather than add a query.
    found: list[PrivacyRequest] = []
    after: tuple[datetime, str] | None = None
    while True:
        page = uow.requests.list(RequestFilter(status=status), after, _PAGE)
        found.extend(r for r in page if r.due_at < now)
        if len(page) < _PAGE:
            return found
        after = (page[-1].received_at, page[-1].id)


def overdue(platform: Platform, limit: int = 50) -> tuple[Sequence[PrivacyRequest], int]:
    """Open requests past their due date, soonest due first (up to `limit`), and how many."""
    now = platform.clock()
    with platform.uow() as uow:
        late = [r for status in OPEN for r in _late(uow, status, now)]
    late.sort(key=lambda r: (r.due_at, r.id))
    return late[:limit], len(late)


def consent_choices(platform: Platform) -> Mapping[str, ChoiceCounts]:
    """Purpose key -> people whose current choice grants or refuses it."""
    with platform.uow() as uow:
        return uow.consent_states.choice_counts()
