"""The console's request queue: what needs attention first.

Requests are listed through services/requests.list_requests (the REST list) and ordered here
for people: overdue first, then those due soon, then the other open ones, each by due date,
then closed requests. The storage lists newest first only, so the queue orders a window of the
newest `WINDOW` matching requests (a filter narrows the window); the page says when it is full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.regimes import REGIMES, get_regime
from rightsflow.domain.requests import TERMINAL, PrivacyRequest, RequestStatus, RequestType
from rightsflow.services import requests
from rightsflow.services.platform import Platform
from rightsflow.services.ports import RequestFilter

WINDOW = 2_000  # requests ordered per view; past that, narrow the filters
PAGE_SIZE = 25
DUE_SOON = timedelta(days=7)  # the first reminder the lifecycle sends (remind_before_days)
_BATCH = 200
_DAY = timedelta(days=1)

STATUSES = tuple(s.value for s in RequestStatus)
TYPES = tuple(t.value for t in RequestType)
REGIME_KEYS = tuple(sorted(REGIMES))


class Due(StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due-soon"
    OPEN = "open"  # due later
    CLOSED = "closed"


DUE_CHOICES = ("all", Due.OVERDUE.value, Due.DUE_SOON.value)
_RANK = {Due.OVERDUE: 0, Due.DUE_SOON: 1, Due.OPEN: 2, Due.CLOSED: 3}


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""
    type: str = ""
    regime: str = ""
    due: str = "all"

    def checked(self) -> RequestFilter:
        """The storage filter; InvalidInput naming the field for a value not offered."""
        for name, value, allowed in (
            ("status", self.status, STATUSES),
            ("type", self.type, TYPES),
            ("due", self.due, DUE_CHOICES),
        ):
            if value and value not in allowed:
                raise InvalidInput(f"expected one of: {', '.join(allowed)}", field=name)
        return RequestFilter(
            status=RequestStatus(self.status) if self.status else None,
            type=RequestType(self.type) if self.type else None,
            regime=get_regime(self.regime).key if self.regime else None,
        )


@dataclass(frozen=True)
class QueueRow:
    request: PrivacyRequest
    due: Due
    due_text: str  # says what the badge colour says, in words

    @property
    def short_id(self) -> str:
        return self.request.id[:8]


@dataclass(frozen=True)
class QueuePage:
    rows: Sequence[QueueRow]
    page: int
    pages: int
    total: int
    window_full: bool


def due_of(request: PrivacyRequest, now: datetime) -> tuple[Due, str]:
    if request.status in TERMINAL:
        return Due.CLOSED, f"closed ({request.status.value})"
    left = request.due_at - now
    if left < timedelta(0):
        days = math.ceil(-left / _DAY)
        return Due.OVERDUE, f"overdue by {days} day{'' if days == 1 else 's'}"
    days = round(left / _DAY)  # 29 days 23 hours reads "due in 30 days"
    if left < _DAY:
        text = "due in less than a day"
    else:
        text = f"due in {days} day{'' if days == 1 else 's'}"
    return (Due.DUE_SOON if left <= DUE_SOON else Due.OPEN), text


def ordered(found: Sequence[PrivacyRequest], now: datetime, due: str = "all") -> list[QueueRow]:
    rows = [QueueRow(r, *due_of(r, now)) for r in found]
    if due != "all":
        rows = [row for row in rows if row.due.value == due]
    return sorted(rows, key=lambda row: (_RANK[row.due], row.request.due_at, row.request.id))


def _window(platform: Platform, filters: RequestFilter) -> list[PrivacyRequest]:
    found: list[PrivacyRequest] = []
    after: tuple[datetime, str] | None = None
    while len(found) < WINDOW:
        batch = requests.list_requests(platform, filters, after, min(_BATCH, WINDOW - len(found)))
        found.extend(batch)
        if len(batch) < _BATCH:
            break
        after = (batch[-1].received_at, batch[-1].id)
    return found


def queue_page(platform: Platform, filters: QueueFilters, page: int) -> QueuePage:
    """One page of the ordered queue (a sync service call: run it in a thread)."""
    storage_filter = filters.checked()
    found = _window(platform, storage_filter)
    rows = ordered(found, platform.clock(), filters.due)
    return paged(rows, page, window_full=len(found) >= WINDOW)


def paged(rows: Sequence[QueueRow], page: int, *, window_full: bool = False) -> QueuePage:
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return QueuePage(rows[start : start + PAGE_SIZE], page, pages, len(rows), window_full)
