"""The dashboard's counting (domain/console_metrics.py): days or weeks from the window's first
day, statuses in lifecycle order, regimes by name, timeliness as the summary report has it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rightsflow.domain.console_metrics import activity, parse_period
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.reports import RequestFacts, days_window
from rightsflow.domain.requests import RequestStatus, RequestType

NOW = datetime(2026, 3, 31, 18, tzinfo=UTC)


def facts(day: str, status: RequestStatus, regime: str = "gdpr", days: float = 0) -> RequestFacts:
    received = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
    closed = received + timedelta(days=days) if status is RequestStatus.COMPLETED else None
    return RequestFacts(
        type=RequestType.ACCESS,
        regime=regime,
        status=status,
        received_at=received,
        due_at=received + timedelta(days=30),
        closed_at=closed,
    )


def test_a_short_period_is_counted_per_day() -> None:
    window = days_window(date(2026, 3, 2), date(2026, 3, 31))
    got = activity(
        [
            facts("2026-03-02", RequestStatus.COMPLETED, days=2),
            facts("2026-03-02", RequestStatus.RECEIVED, "ccpa"),
            facts("2026-03-31", RequestStatus.COMPLETED, days=4),
        ],
        window,
        NOW,
    )
    assert got.step == 1
    assert len(got.starts) == 30
    assert got.by_status["received"][0] == 1
    assert got.by_status["completed"][0] == 1
    assert got.by_status["completed"][29] == 1
    assert list(got.by_status) == ["received", "completed"]  # lifecycle order
    assert list(got.by_regime) == ["ccpa", "gdpr"]
    assert got.received == 3
    assert got.total.median_days == 3.0
    assert got.total.on_time_rate == 1.0


def test_a_long_period_is_counted_per_week_from_its_first_day() -> None:
    window = days_window(date(2025, 4, 1), date(2026, 3, 31))
    got = activity(
        [
            facts("2025-04-07", RequestStatus.DENIED),  # day 6: week 0
            facts("2025-04-08", RequestStatus.DENIED),  # day 7: week 1
            facts("2026-03-31", RequestStatus.DENIED),  # the last, short week
        ],
        window,
        NOW,
    )
    assert got.step == 7
    assert len(got.starts) == 53
    assert got.starts[1] == date(2025, 4, 8)
    counts = got.by_status["denied"]
    assert (counts[0], counts[1], counts[-1], sum(counts)) == (1, 1, 1, 3)


@pytest.mark.parametrize(("raw", "days"), [(None, 30), ("", 30), ("90", 90), ("365", 365)])
def test_periods(raw: str | None, days: int) -> None:
    assert parse_period(raw) == days


@pytest.mark.parametrize("raw", ["7", "abc", "-30", "30.0"])
def test_other_periods_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_period(raw)
    assert caught.value.field == "days"


def test_days_are_the_windows_local_days() -> None:
    window = days_window(date(2026, 3, 2), date(2026, 3, 31), "America/Los_Angeles")
    morning = facts("2026-03-03", RequestStatus.RECEIVED)  # 10:00 UTC, 02:00 in California
    early = RequestFacts(
        type=RequestType.ACCESS,
        regime="gdpr",
        status=RequestStatus.RECEIVED,
        received_at=datetime(2026, 3, 3, 5, tzinfo=UTC),  # 21:00 on 2 March in California
        due_at=NOW,
    )
    got = activity([morning, early], window, NOW)
    assert got.by_status["received"][:2] == [1, 1]
