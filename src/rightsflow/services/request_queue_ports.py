"""The port of the console's request queue: requests in the order people work them, paged in
the database (services/request_queue.py; the SQL adapter is storage/request_queue.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from rightsflow.domain.records import RequestFilter
from rightsflow.domain.requests import PrivacyRequest


class RequestQueue(Protocol):
    def page(
        self,
        filters: RequestFilter,
        *,
        due: str | None,
        now: datetime,
        soon: datetime,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[PrivacyRequest], int]:
        """(one page, how many match): open requests overdue (due_at < now) first, then due
        soon (due_at <= soon), then the other open ones, then closed ones; each by due_at, id.
        `due` keeps only "overdue" or "due-soon" open requests (None: all)."""
        ...
