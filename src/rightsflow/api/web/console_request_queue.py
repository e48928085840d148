"""The console's request queue: what needs attention first.

Requests are ordered for people: overdue first, then those due soon, then the other open
ones, each by due date, then closed requests. The database orders and pages them
(services/request_queue.py), so every matching request has its place. A search's few results
are ordered here the same way (`ordered`).
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
from rightsflow.services import request_queue
from rightsflow.services.platform import Platform
from rightsflow.services.ports import RequestFilter
from rightsflow.services.request_queue import DUE_SOON

PAGE_SIZE = 25
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


def ordered(found: Sequence[PrivacyRequest], now: datetime) -> list[QueueRow]:
    rows = [QueueRow(r, *due_of(r, now)) for r in found]
    return sorted(rows, key=lambda row: (_RANK[row.due], row.request.due_at, row.request.id))


def queue_page(platform: Platform, filters: QueueFilters, page: int) -> QueuePage:
    """One page of the ordered queue (a sync service call: run it in a thread); a page past
    the end shows the last one."""
    storage_filter = filters.checked()
    due = None if filters.due == "all" else filters.due
    now = platform.clock()
    while True:
        offset = (page - 1) * PAGE_SIZE
        found, total = request_queue.queue_page(platform, storage_filter, due, offset, PAGE_SIZE)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        if page <= pages:
            rows = [QueueRow(r, *due_of(r, now)) for r in found]
            return QueuePage(rows, page, pages, total)
        page = pages


def paged(rows: Sequence[QueueRow], page: int) -> QueuePage:
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return QueuePage(rows[start : start + PAGE_SIZE], page, pages, len(rows))
