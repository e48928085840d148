"""The console's numbers: requests per day or week by status and by regime with the on-time
rate and median days to respond (as the summary report defines them, domain/reports.py), and
the current choices per consent purpose.

Only types, statuses, regimes, times and counts: nothing here is personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.reports import RequestFacts, Tally, Window, parse_timezone
from rightsflow.domain.requests import RequestStatus

PERIODS = (30, 90, 365)  # days a dashboard covers; the choice is offered as links
DAILY_UP_TO = 31  # longer periods are counted per week (up to 53 bars, not 365)


@dataclass(frozen=True)
class ChoiceCounts:
    """People whose current choice grants or refuses a purpose."""

    granted: int
    refused: int

    @property
    def total(self) -> int:
        return self.granted + self.refused

    @property
    def opt_out_rate(self) -> float | None:
        return self.refused / self.total if self.total else None


def parse_period(raw: str | None) -> int:
    if raw is None or raw == "":
        return PERIODS[0]
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days not in PERIODS:
        raise InvalidInput(f"one of {', '.join(map(str, PERIODS))}", field="days")
    return days


@dataclass
class Activity:
    """Requests received in a window, counted per bucket (a day or a week from the window's
    first day) by status and by regime, and their timeliness."""

    window: Window
    step: int  # days per bucket: 1 or 7
    starts: list[date]
    by_status: dict[str, list[int]] = field(default_factory=dict)
    by_regime: dict[str, list[int]] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)

    @property
    def received(self) -> int:
        return self.total.received


def _starts(first: date, last: date, step: int) -> list[date]:
    count = (last - first).days // step + 1
    return [first + timedelta(days=step * i) for i in range(count)]


def _bump(series: dict[str, list[int]], key: str, size: int, index: int) -> None:
    series.setdefault(key, [0] * size)[index] += 1


def activity(facts: Iterable[RequestFacts], window: Window, now: datetime) -> Activity:
    step = 1 if (window.last_day - window.first_day).days < DAILY_UP_TO else 7
    starts = _starts(window.first_day, window.last_day, step)
    result = Activity(window, step, starts)
    size = len(starts)
    zone = parse_timezone(window.timezone)  # a request's day is the window's local day
    for item in facts:
        day = item.received_at.astimezone(zone).date()
        index = min((day - window.first_day).days // step, size - 1)
        _bump(result.by_status, item.status.value, size, index)
        _bump(result.by_regime, item.regime, size, index)
        result.total.add(item, now)
    # Stable orders: statuses as the lifecycle goes, regimes by name.
    order = [s.value for s in RequestStatus]
    result.by_status = {k: result.by_status[k] for k in order if k in result.by_status}
    result.by_regime = dict(sorted(result.by_regime.items()))
    return result
