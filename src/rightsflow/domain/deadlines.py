"""Deadline arithmetic for privacy requests: periods, rules, regimes and their calendars.

The table of regimes lives in `regimes.py`, which re-exports everything here.

Deadline semantics (the README's "Regimes and deadlines" section says the same):

- Inputs and outputs are timezone-aware datetimes (outputs in UTC); naive input is a ValueError.
- Dates are counted in the regime's time zone. The day of receipt is day 0 ("45 days" from
  1 March is 15 April) and a deadline is the END of the due day there (23:59:59.999999 local),
  returned in UTC. A request received 23:30 in Los Angeles counts from that local date.
- days: calendar days.
- months: the same date N months later, clamped to the last day of a shorter month (31 Jan +
  1 month = 28 Feb, 29 Feb in a leap year) - Regulation 1182/71 Art. 3(2)(c).
- business days: skip Saturdays, Sundays and the jurisdiction's public holidays (the `holidays`
  package, per country and subdivision).
- roll_to_working_day: a calendar or monthly due date on a weekend or public holiday moves to the
  next working day (GDPR/UK GDPR: Regulation 1182/71 Art. 3(4); ICO guidance). Regimes without
  an explicit rule keep the earlier date, which is always safe for the business.
- An extension is counted from the original due date with the same rules.
- Where `pause_for_verification` is set (GDPR, UK GDPR) the caller starts the clock when identity
  is verified; everywhere else the clock runs from receipt.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

import holidays

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import RequestType


class Unit(StrEnum):
    DAYS = "days"
    BUSINESS_DAYS = "business_days"
    MONTHS = "months"


_UNIT_WORD = {Unit.DAYS: "day", Unit.BUSINESS_DAYS: "business day", Unit.MONTHS: "month"}
_PERIOD = re.compile(r"^(\d{1,4})\s+(business[\s_]+days?|days?|months?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.amount < 1:
            raise ValueError("a period is at least 1 unit long")

    def __str__(self) -> str:
        word = _UNIT_WORD[self.unit]
        return f"{self.amount} {word}" + ("" if self.amount == 1 else "s")

    @classmethod
    def parse(cls, text: str) -> Period:
        """ "45 days" | "1 month" | "2 months" | "10 business days" (case and plural are free)."""
        match = _PERIOD.match(text.strip())
        if match is None or int(match.group(1)) < 1:
            raise InvalidInput(
                'expected a period such as "45 days", "2 months" or "10 business days"',
                field="period",
            )
        word = re.sub(r"[\s_]+", " ", match.group(2).lower()).rstrip("s")
        unit = {"day": Unit.DAYS, "business day": Unit.BUSINESS_DAYS, "month": Unit.MONTHS}[word]
        return cls(int(match.group(1)), unit)

    def fits_within(self, limit: Period) -> bool:
        """Whether this period is no longer than `limit` (periods in other units never fit)."""
        return self.unit is limit.unit and self.amount <= limit.amount


@dataclass(frozen=True)
class Rule:
    """What one regime asks for one request type."""

    respond: Period
    extension: Period | None = None  # the most extra time allowed (None: no extension)
    extension_notice: str = ""  # how and when the subject must be told of an extension
    acknowledge: Period | None = None  # confirm receipt within (CCPA know/delete/correct)
    verification: bool = True  # identity verification required before acting
    appeal_window: Period | None = None  # how long the subject has to appeal a denial
    appeal_response: Period | None = None  # how long the business has to answer an appeal
    basis: str = ""  # the article or section this rule comes from


@dataclass(frozen=True)
class Regime:
    key: str
    name: str
    timezone: str  # IANA zone dates are counted in
    holiday_country: str  # for the `holidays` package
    holiday_subdivision: str | None
    pause_for_verification: bool  # the clock starts only once identity is verified
    roll_to_working_day: bool  # a calendar due date on a weekend/holiday moves forward
    rules: Mapping[RequestType, Rule]

    @property
    def granted(self) -> tuple[RequestType, ...]:
        return tuple(t for t in RequestType if t in self.rules)

    def rule(self, request_type: RequestType) -> Rule:
        try:
            return self.rules[request_type]
        except KeyError:
            granted = ", ".join(t.value for t in self.granted)
            raise InvalidInput(
                f"{self.name} grants no {request_type.value} right; it grants: {granted}",
                field="type",
            ) from None

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        return day not in _holidays(self.holiday_country, self.holiday_subdivision, day.year)


@lru_cache(maxsize=512)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays of one jurisdiction and year; cached because deadlines ask often."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


_D = TypeVar("_D", bound=date)


def add_months(at: _D, months: int) -> _D:
    """Same date N months later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def _local_date(regime: Regime, at: datetime) -> date:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("deadline arithmetic needs a timezone-aware datetime")
    return at.astimezone(ZoneInfo(regime.timezone)).date()


def _end_of_day(regime: Regime, day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=ZoneInfo(regime.timezone)).astimezone(UTC)


def _next_working_day(regime: Regime, day: date) -> date:
    while not regime.is_working_day(day):
        day += timedelta(days=1)
    return day


def _add_business_days(regime: Regime, day: date, amount: int) -> date:
    for _ in range(amount):
        day = _next_working_day(regime, day + timedelta(days=1))
    return day


def due_date(regime: Regime, start: date, period: Period) -> date:
    """The local due date `period` after the local date `start` (day 0)."""
    if period.unit is Unit.BUSINESS_DAYS:
        return _add_business_days(regime, start, period.amount)
    if period.unit is Unit.MONTHS:
        day = add_months(start, period.amount)
    else:
        day = start + timedelta(days=period.amount)
    return _next_working_day(regime, day) if regime.roll_to_working_day else day


def add_period(regime: Regime, start: datetime, period: Period) -> datetime:
    """The end (in UTC) of the local day `period` after `start`'s local date."""
    return _end_of_day(regime, due_date(regime, _local_date(regime, start), period))


def response_due(regime: Regime, request_type: RequestType, clock_start: datetime) -> datetime:
    return add_period(regime, clock_start, regime.rule(request_type).respond)


def extended_due(
    regime: Regime, request_type: RequestType, due: datetime, asked: Period | None = None
) -> datetime:
    """The deadline after an extension of `asked` (None: the full extension) from `due`."""
    limit = regime.rule(request_type).extension
    if limit is None:
        raise InvalidInput(
            f"the {regime.name} allows no extension for {request_type.value} requests",
            field="period",
        )
    if asked is not None and not asked.fits_within(limit):
        raise InvalidInput(
            f"the {regime.name} allows an extension of at most {limit}", field="period"
        )
    return add_period(regime, due, asked or limit)


def acknowledge_due(
    regime: Regime, request_type: RequestType, received_at: datetime
) -> datetime | None:
    period = regime.rule(request_type).acknowledge
    return None if period is None else add_period(regime, received_at, period)


def appeal_until(
    regime: Regime, request_type: RequestType, decided_at: datetime
) -> datetime | None:
    period = regime.rule(request_type).appeal_window
    return None if period is None else add_period(regime, decided_at, period)


def appeal_response_due(
    regime: Regime, request_type: RequestType, appealed_at: datetime
) -> datetime | None:
    period = regime.rule(request_type).appeal_response
    return None if period is None else add_period(regime, appealed_at, period)
