"""Regulatory report metrics from plain facts per request: CCPA §7102 and a general summary.

11 CCR §7102(a)(1) asks, per kind of request (delete, correct, know, opt-out of sale/sharing,
limit), how many were received, complied with in whole or in part, and denied, and the median
or mean days to respond substantively; (a)(2) lets a business break denials down by ground.
The definitions, decided once here (README "Regulatory reports" says the same):

- received: `received_at` inside the window, which is a calendar year in America/Los_Angeles
  for the CCPA report (the statute's year is the business's; California's local midnight) and
  whole days in a chosen timezone (UTC by default) for the summary.
- complied in whole: completed, nothing withheld. In part: completed while rows were kept under
  an exemption, or a system was given up on (no answer, failed, could not comply).
- denied: denied (by its DenialReason), or expired: never verified in the time allowed, which
  §7102(a)(2) counts as "not verifiable".
- canceled (withdrawn by the subject, their agent or an operator) and open (not yet decided,
  failed steps included: the request is still owed) are neither; they are counted in their own
  columns, so received = complied + denied + canceled + open.
- days to respond: (closed_at, or completed_at for requests closed before the lifecycle
  columns existed) minus received_at in calendar days, for complied and denied requests; mean
  and median are reported, rounded half up to one decimal.
- on time (summary): a decided request closed on or before its due_at (as extended).

Only types, statuses, times and reason codes are used: nothing here is personal data.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import DenialReason, RequestStatus, RequestType

CCPA_TIMEZONE = "America/Los_Angeles"
FIRST_YEAR = 2000  # older "years" are typing mistakes: no request can be that old
ALL = "all"  # the label of a total row


class CcpaCategory(StrEnum):
    """The five kinds of request §7102(a)(1)(A)-(E) names, in its order."""

    DELETE = "delete"
    CORRECT = "correct"
    KNOW = "know"
    OPT_OUT = "opt_out"
    LIMIT = "limit"


# Portability is the access package in a machine-readable form: a request to know.
# Restriction has no CCPA counterpart and is left out of the CCPA report (counted aside).
CCPA_CATEGORY: Mapping[RequestType, CcpaCategory] = {
    RequestType.ERASURE: CcpaCategory.DELETE,
    RequestType.RECTIFICATION: CcpaCategory.CORRECT,
    RequestType.ACCESS: CcpaCategory.KNOW,
    RequestType.PORTABILITY: CcpaCategory.KNOW,
    RequestType.OPT_OUT: CcpaCategory.OPT_OUT,
    RequestType.LIMIT_USE: CcpaCategory.LIMIT,
}


class Outcome(StrEnum):
    COMPLIED_IN_WHOLE = "complied_in_whole"
    COMPLIED_IN_PART = "complied_in_part"
    DENIED = "denied"
    CANCELED = "canceled"
    OPEN = "open"


DECIDED = frozenset({Outcome.COMPLIED_IN_WHOLE, Outcome.COMPLIED_IN_PART, Outcome.DENIED})


class DenialGround(StrEnum):
    """The grounds §7102(a)(2) lets a business disclose denials by."""

    NOT_VERIFIABLE = "not_verifiable"
    NOT_MADE_BY_CONSUMER = "not_made_by_consumer"
    EXEMPT = "exempt"
    OTHER = "other"


EXPIRED = "not_verified_in_time"  # the denial key of an expired request
UNSPECIFIED = "unspecified"  # a denied request without a (known) reason code
_REASONS = frozenset(r.value for r in DenialReason)
DENIAL_KEYS: tuple[str, ...] = (*(r.value for r in DenialReason), EXPIRED, UNSPECIFIED)
_GROUND: Mapping[str, DenialGround] = {
    DenialReason.IDENTITY_NOT_VERIFIED: DenialGround.NOT_VERIFIABLE,
    DenialReason.SUSPECTED_FRAUD: DenialGround.NOT_VERIFIABLE,
    EXPIRED: DenialGround.NOT_VERIFIABLE,
    # Not a consumer: not a California resident, or an agent the consumer did not authorize.
    DenialReason.OUTSIDE_JURISDICTION: DenialGround.NOT_MADE_BY_CONSUMER,
    DenialReason.AGENT_NOT_AUTHORIZED: DenialGround.NOT_MADE_BY_CONSUMER,
    DenialReason.EXEMPTION_APPLIES: DenialGround.EXEMPT,
}


@dataclass(frozen=True)
class RequestFacts:
    """What a report needs to know about one request: no ids, no identities."""

    type: RequestType
    regime: str
    status: RequestStatus
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None = None
    completed_at: datetime | None = None
    denial_reason: str | None = None
    rows_kept: bool = False  # rows found were kept under an exemption
    systems_not_done: bool = False  # a system was given up on, failed or could not comply

    @cached_property  # asked several times per request; reports read millions of them
    def outcome(self) -> Outcome:
        status = self.status
        if status is RequestStatus.COMPLETED:
            withheld = self.rows_kept or self.systems_not_done
            return Outcome.COMPLIED_IN_PART if withheld else Outcome.COMPLIED_IN_WHOLE
        if status in (RequestStatus.DENIED, RequestStatus.EXPIRED):
            return Outcome.DENIED
        if status is RequestStatus.CANCELED:
            return Outcome.CANCELED
        return Outcome.OPEN

    @property
    def denial_key(self) -> str | None:
        if self.status is RequestStatus.EXPIRED:
            return EXPIRED
        if self.status is not RequestStatus.DENIED:
            return None
        reason = self.denial_reason
        return reason if reason is not None and reason in _REASONS else UNSPECIFIED

    @property
    def responded_at(self) -> datetime | None:
        """When the request was decided (complied with or denied); None otherwise."""
        if self.outcome not in DECIDED:
            return None
        return self.closed_at or self.completed_at

    @property
    def days_to_respond(self) -> float | None:
        responded = self.responded_at
        if responded is None:
            return None
        return (responded - self.received_at).total_seconds() / 86_400


def ground_of(denial_key: str) -> DenialGround:
    return _GROUND.get(denial_key, DenialGround.OTHER)


def one_decimal(value: float) -> float:
    """Half up (2.25 -> 2.3), not Python's round-half-even on the binary value."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass
class Tally:
    """Counts for one row of a report (a CCPA category, a regime and type, or a total)."""

    received: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)
    days: list[float] = field(default_factory=list)
    on_time: int = 0
    open_overdue: int = 0

    def add(self, facts: RequestFacts, now: datetime) -> None:
        outcome = facts.outcome
        self.received += 1
        self.outcomes[outcome] += 1
        key = facts.denial_key
        if key is not None:
            self.denials[key] += 1
        responded = facts.responded_at
        if responded is not None:
            self.days.append((responded - facts.received_at).total_seconds() / 86_400)
            self.on_time += responded <= facts.due_at
        if outcome is Outcome.OPEN and facts.due_at < now:
            self.open_overdue += 1

    def merge(self, other: Tally) -> None:
        self.received += other.received
        self.outcomes.update(other.outcomes)
        self.denials.update(other.denials)
        self.days.extend(other.days)
        self.on_time += other.on_time
        self.open_overdue += other.open_overdue

    @property
    def mean_days(self) -> float | None:
        return one_decimal(statistics.fmean(self.days)) if self.days else None

    @property
    def median_days(self) -> float | None:
        return one_decimal(statistics.median(self.days)) if self.days else None

    @property
    def on_time_rate(self) -> float | None:
        """Share of decided requests closed by their due date, 0 to 1 (four decimals)."""
        return round(self.on_time / len(self.days), 4) if self.days else None

    def counts(self) -> dict[str, int | float | None]:
        """The row as flat, fixed columns (the same in JSON and CSV)."""
        o = self.outcomes
        grounds: Counter[DenialGround] = Counter()
        for key, n in self.denials.items():
            grounds[ground_of(key)] += n
        return {
            "received": self.received,
            "complied": o[Outcome.COMPLIED_IN_WHOLE] + o[Outcome.COMPLIED_IN_PART],
            "complied_in_whole": o[Outcome.COMPLIED_IN_WHOLE],
            "complied_in_part": o[Outcome.COMPLIED_IN_PART],
            "denied": o[Outcome.DENIED],
            **{f"denied_{g.value}": grounds[g] for g in DenialGround},
            **{f"denied_reason_{k}": self.denials[k] for k in DENIAL_KEYS},
            "canceled": o[Outcome.CANCELED],
            "open": o[Outcome.OPEN],
            "responses": len(self.days),
            "mean_days": self.mean_days,
            "median_days": self.median_days,
        }

    def timeliness(self) -> dict[str, int | float | None]:
        return {
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "open_overdue": self.open_overdue,
        }


@dataclass(frozen=True)
class Window:
    """Requests received from `start` (inclusive) to `end` (exclusive): whole local days."""

    first_day: date
    last_day: date
    timezone: str
    start: datetime
    end: datetime


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def days_window(first_day: date, last_day: date, timezone: str = "UTC") -> Window:
    if last_day < first_day:
        raise InvalidInput("the last day comes before the first ('from')", field="to")
    zone = parse_timezone(timezone)
    start, end = _midnight(first_day, zone), _midnight(last_day + timedelta(days=1), zone)
    return Window(first_day, last_day, timezone, start, end)


def year_window(year: int, now: datetime, timezone: str = CCPA_TIMEZONE) -> Window:
    if not FIRST_YEAR <= year <= now.year:
        raise InvalidInput(f"a year from {FIRST_YEAR} to {now.year}", field="year")
    return days_window(date(year, 1, 1), date(year, 12, 31), timezone)


def parse_day(raw: str, field: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("a date as YYYY-MM-DD", field=field) from None


def parse_timezone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "an IANA time zone such as UTC or America/Los_Angeles", field="tz"
        ) from None


@dataclass
class CcpaReport:
    year: int
    window: Window
    all_regimes: bool  # §7102(b): requests from everyone, not only CCPA requests
    rows: dict[CcpaCategory, Tally]
    total: Tally
    not_reported: Counter[str]  # request types §7102 does not name, by type


def ccpa_report(
    facts: Iterable[RequestFacts], year: int, window: Window, now: datetime, all_regimes: bool
) -> CcpaReport:
    report = CcpaReport(year, window, all_regimes, {c: Tally() for c in CcpaCategory}, Tally(),
                        Counter())  # fmt: skip
    for item in facts:
        category = CCPA_CATEGORY.get(item.type)
        if category is None:
            report.not_reported[item.type.value] += 1
            continue
        report.rows[category].add(item, now)
    for tally in report.rows.values():
        report.total.merge(tally)
    return report


@dataclass
class SummaryReport:
    window: Window
    regime: str | None
    rows: dict[tuple[str, str], Tally]  # (regime, type), sorted when rendered
    total: Tally


def summary_report(
    facts: Iterable[RequestFacts], window: Window, regime: str | None, now: datetime
) -> SummaryReport:
    report = SummaryReport(window, regime, {}, Tally())
    for item in facts:
        report.rows.setdefault((item.regime, item.type.value), Tally()).add(item, now)
    for tally in report.rows.values():
        report.total.merge(tally)
    return report
