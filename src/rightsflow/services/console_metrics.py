"""What the console's dashboard and consent pages count: request activity over a period, the
overdue requests, and the current choices per consent purpose. Read-only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from rightsflow.domain.console_metrics import Activity, ChoiceCounts, activity
from rightsflow.domain.records import RequestFilter
from rightsflow.domain.reports import days_window
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.services.platform import Platform
from rightsflow.services.request_queue import queue_page


def request_activity(platform: Platform, days: int, timezone: str = "UTC") -> Activity:
    """Requests received in the last `days` whole days (today included), in `timezone`."""
    now = platform.clock()
    last = now.date()
    window = days_window(last - timedelta(days=days - 1), last, timezone)
    with platform.uow() as uow:
        return activity(uow.reports.request_facts(window.start, window.end), window, now)


def overdue(platform: Platform, limit: int = 50) -> tuple[Sequence[PrivacyRequest], int]:
    """Open requests past their due date, soonest due first (up to `limit`), and how many:
    the request queue's first page filtered to overdue (one ranked query and one count)."""
    return queue_page(platform, RequestFilter(), "overdue", 0, limit)


def consent_choices(platform: Platform) -> Mapping[str, ChoiceCounts]:
    """Purpose key -> people whose current choice grants or refuses it."""
    with platform.uow() as uow:
        return uow.consent_states.choice_counts()
