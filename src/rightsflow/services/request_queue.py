"""The console's request queue: what needs attention first, ordered and paged in storage
(see services/request_queue_ports.py for the order)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from rightsflow.domain.records import RequestFilter
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.services.platform import Platform

DUE_SOON = timedelta(days=7)  # the first reminder the lifecycle sends (remind_before_days)


def queue_page(
    platform: Platform, filters: RequestFilter, due: str | None, offset: int, limit: int
) -> tuple[Sequence[PrivacyRequest], int]:
    """(one page of the queue, how many requests match)."""
    now = platform.clock()
    with platform.uow() as uow:
        return uow.request_queue.page(
            filters, due=due, now=now, soon=now + DUE_SOON, offset=offset, limit=limit
        )
