"""Regimes: which rights each law grants, and the deadline arithmetic (calendars, months, zones)."""

from __future__ import annotations

import calendar
import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.regimes import (
    REGIMES,
    Period,
    Regime,
    Unit,
    acknowledge_due,
    add_months,
    add_period,
    appeal_response_due,
    appeal_until,
    due_at,
    due_date,
    extended_due,
    get_regime,
    response_due,
)
from rightsflow.domain.requests import RequestType

T = RequestType
LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
EOD = (23, 59, 59, 999999)


def end_of(day: date, zone: ZoneInfo) -> datetime:
    """The last instant of a local day, in UTC: what every deadline is."""
    return datetime(day.year, day.month, day.day, *EOD, tzinfo=zone).astimezone(UTC)


# --- which rights each law grants ----------------------------------------------------------

ALL_BUT_LIMIT = {T.ACCESS, T.ERASURE, T.RECTIFICATION, T.RESTRICTION, T.PORTABILITY, T.OPT_OUT}
US_STATE = {T.ACCESS, T.ERASURE, T.RECTIFICATION, T.PORTABILITY, T.OPT_OUT}
GRANTS: dict[str, set[RequestType]] = {
    "gdpr": ALL_BUT_LIMIT,
    "uk_gdpr": ALL_BUT_LIMIT,
    "ccpa": {T.ACCESS, T.ERASURE, T.RECTIFICATION, T.PORTABILITY, T.OPT_OUT, T.LIMIT_USE},
    "lgpd": ALL_BUT_LIMIT,
    "pipeda": {T.ACCESS, T.RECTIFICATION, T.OPT_OUT},
    "vcdpa": US_STATE,
    "cpa": US_STATE,
    "ctdpa": US_STATE,
    "ucpa": {T.ACCESS, T.ERASURE, T.PORTABILITY, T.OPT_OUT},
}


def test_the_table_covers_exactly_the_known_regimes() -> None:
    assert set(REGIMES) == set(GRANTS)


@pytest.mark.parametrize(("key", "request_type"), itertools.product(sorted(GRANTS), list(T)))
def test_every_pair_has_a_rule_or_refuses_naming_what_is_granted(
    key: str, request_type: RequestType
) -> None:
    regime = get_regime(key)
    if request_type in GRANTS[key]:
        rule = regime.rule(request_type)
        assert rule.basis, "every rule names its legal basis"
        assert response_due(regime, request_type, datetime(2025, 1, 1, tzinfo=UTC))
        return
    with pytest.raises(InvalidInput) as exc:
        regime.rule(request_type)
    assert exc.value.field == "type"
    granted = ", ".join(t.value for t in T if t in GRANTS[key])
    assert str(exc.value) == (
        f"{regime.name} grants no {request_type.value} right; it grants: {granted}"
    )


def test_refusal_messages_read_well() -> None:
    refusals = {
        ("ucpa", T.RECTIFICATION): "Utah CPA grants no rectification right; it grants: "
        "access, erasure, portability, opt_out",
        ("pipeda", T.ERASURE): "Canada PIPEDA grants no erasure right; it grants: "
        "access, rectification, opt_out",
        ("gdpr", T.LIMIT_USE): "EU GDPR grants no limit_use right; it grants: "
        "access, erasure, rectification, restriction, portability, opt_out",
    }
    for (key, request_type), message in refusals.items():
        with pytest.raises(InvalidInput) as exc:
            get_regime(key).rule(request_type)
        assert str(exc.value) == message


def test_unknown_regime_names_the_field_and_the_choices() -> None:
    with pytest.raises(InvalidInput) as exc:
        get_regime("hipaa")
    assert exc.value.field == "regime"
    assert "gdpr" in str(exc.value)
    assert "ucpa" in str(exc.value)


def test_verification_acknowledgement_and_clock_pausing() -> None:
    ccpa = get_regime("ccpa")
    assert ccpa.rule(T.ACCESS).verification
    assert not ccpa.rule(T.OPT_OUT).verification  # 11 CCR 7026(d)
    assert not ccpa.rule(T.LIMIT_USE).verification  # 11 CCR 7027(e)
    assert ccpa.rule(T.ERASURE).acknowledge == Period(10, Unit.BUSINESS_DAYS)
    assert ccpa.rule(T.OPT_OUT).acknowledge is None
    assert [k for k, r in REGIMES.items() if r.pause_for_verification] == ["gdpr", "uk_gdpr"]
    for key in ("vcdpa", "cpa", "ctdpa", "ucpa"):
        assert not get_regime(key).rule(T.OPT_OUT).verification


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "period", "shown"),
    [
        ("45 days", Period(45, Unit.DAYS), "45 days"),
        ("1 day", Period(1, Unit.DAYS), "1 day"),
        ("1 month", Period(1, Unit.MONTHS), "1 month"),
        ("2 Months", Period(2, Unit.MONTHS), "2 months"),
        ("10 business days", Period(10, Unit.BUSINESS_DAYS), "10 business days"),
        (" 15  business_days ", Period(15, Unit.BUSINESS_DAYS), "15 business days"),
        ("1 business day", Period(1, Unit.BUSINESS_DAYS), "1 business day"),
    ],
)
def test_periods_parse_and_print(text: str, period: Period, shown: str) -> None:
    assert Period.parse(text) == period
    assert str(period) == shown
    assert Period.parse(str(period)) == period


def test_a_period_is_at_least_one_unit_and_the_table_is_read_only() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Period(0, Unit.DAYS)
    with pytest.raises(TypeError):
        get_regime("ccpa").rules[T.RESTRICTION] = get_regime("gdpr").rule(T.RESTRICTION)  # type: ignore[index]


@pytest.mark.parametrize("text", ["", "45", "0 days", "-1 days", "45 weeks", "days", "1.5 months"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Period.parse(text)
    assert exc.value.field == "period"
    assert "45 days" in str(exc.value)


# --- deadlines -----------------------------------------------------------------------------


def test_the_day_of_receipt_is_day_zero_and_the_deadline_is_the_end_of_the_day() -> None:
    received = datetime(2025, 3, 1, 9, 0, tzinfo=LA).astimezone(UTC)
    assert response_due(get_regime("ccpa"), T.ACCESS, received) == end_of(date(2025, 4, 15), LA)


def test_a_late_evening_in_los_angeles_counts_from_that_local_date() -> None:
    received = datetime(2025, 3, 1, 23, 30, tzinfo=LA).astimezone(UTC)
    assert received.date() == date(2025, 3, 2)  # already the next day in UTC
    due = response_due(get_regime("ccpa"), T.ACCESS, received)
    assert due == end_of(date(2025, 4, 15), LA)
    assert due == datetime(2025, 4, 16, 6, 59, 59, 999999, tzinfo=UTC)  # PDT by then


def test_ccpa_opt_out_is_15_business_days_over_thanksgiving() -> None:
    # Thanksgiving and the day after (27-28 Nov 2025) are California state holidays.
    received = datetime(2025, 11, 17, 10, 0, tzinfo=LA).astimezone(UTC)
    due = response_due(get_regime("ccpa"), T.OPT_OUT, received)
    assert due == end_of(date(2025, 12, 10), LA)


def test_ccpa_limit_use_is_15_business_days_over_christmas_and_new_year() -> None:
    received = datetime(2025, 12, 10, 16, 0, tzinfo=LA).astimezone(UTC)
    due = response_due(get_regime("ccpa"), T.LIMIT_USE, received)
    assert due == end_of(date(2026, 1, 2), LA)  # skips 25 Dec, the weekends and 1 Jan


def test_ccpa_acknowledgement_is_10_business_days() -> None:
    received = datetime(2025, 11, 19, 12, 0, tzinfo=LA).astimezone(UTC)
    assert acknowledge_due(get_regime("ccpa"), T.ERASURE, received) == end_of(date(2025, 12, 5), LA)
    assert acknowledge_due(get_regime("ccpa"), T.OPT_OUT, received) is None
    assert acknowledge_due(get_regime("gdpr"), T.ACCESS, received) is None


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2024, 1, 31), date(2024, 2, 29)),  # leap year: Thursday
        (date(2025, 1, 31), date(2025, 2, 28)),  # Friday
        (date(2026, 1, 31), date(2026, 3, 2)),  # 28 Feb is a Saturday: rolls to Monday
        (date(2027, 1, 30), date(2027, 3, 1)),  # 28 Feb is a Sunday
        (date(2024, 3, 31), date(2024, 4, 30)),
        (date(2024, 2, 29), date(2024, 3, 29)),  # Good Friday is a working day in Ireland
        (date(2023, 12, 31), date(2024, 1, 31)),
    ],
)
def test_gdpr_is_the_same_date_next_month_rolled_to_a_working_day(
    received: date, due: date
) -> None:
    dublin = ZoneInfo("Europe/Dublin")
    at = datetime(received.year, received.month, received.day, 10, 0, tzinfo=dublin)
    assert response_due(get_regime("gdpr"), T.ACCESS, at.astimezone(UTC)) == end_of(due, dublin)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2025, 3, 21), date(2025, 4, 22)),  # Easter Monday
        (date(2025, 3, 18), date(2025, 4, 22)),  # Good Friday, the weekend, Easter Monday
        (date(2025, 11, 25), date(2025, 12, 29)),  # Christmas, Boxing Day, the weekend
        (date(2025, 4, 26), date(2025, 5, 27)),  # the Spring bank holiday, 26 May
    ],
)
def test_uk_gdpr_rolls_over_english_bank_holidays(received: date, due: date) -> None:
    at = datetime(received.year, received.month, received.day, 12, 0, tzinfo=LONDON)
    assert response_due(get_regime("uk_gdpr"), T.ERASURE, at) == end_of(due, LONDON)


def test_the_eu_and_uk_calendars_differ_on_good_friday() -> None:
    received = datetime(2025, 3, 18, 12, 0, tzinfo=UTC)
    assert due_date(get_regime("gdpr"), received.date(), Period(1, Unit.MONTHS)) == date(
        2025, 4, 18
    )
    assert due_date(get_regime("uk_gdpr"), received.date(), Period(1, Unit.MONTHS)) == date(
        2025, 4, 22
    )


def test_us_states_count_calendar_days_without_rolling() -> None:
    received = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)  # 45 days later is Sunday 1 March
    for key in ("vcdpa", "cpa", "ctdpa", "ucpa"):
        regime = get_regime(key)
        due = response_due(regime, T.ACCESS, received)
        assert due == end_of(date(2025, 3, 1), ZoneInfo(regime.timezone))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        response_due(get_regime("gdpr"), T.ACCESS, datetime(2025, 1, 1))  # noqa: DTZ001


def test_the_compatibility_wrapper_is_the_access_deadline() -> None:
    received = datetime(2024, 12, 20, 8, 0, tzinfo=UTC)
    for regime in REGIMES.values():
        assert due_at(regime, received) == response_due(regime, T.ACCESS, received)
        assert due_at(regime, received) > received
    assert due_at(get_regime("ccpa"), received, T.OPT_OUT) == response_due(
        get_regime("ccpa"), T.OPT_OUT, received
    )


def test_add_months_over_several_years() -> None:
    assert add_months(datetime(2023, 11, 30, tzinfo=UTC), 3) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2023, 1, 31, tzinfo=UTC), 25) == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_months(date(2100, 1, 31), 1) == date(2100, 2, 28)  # not a leap year
    assert add_months(date(2000, 1, 30), 1) == date(2000, 2, 29)  # a leap year


# --- extensions and appeals ----------------------------------------------------------------


def test_ccpa_extension_within_and_beyond_the_maximum() -> None:
    ccpa = get_regime("ccpa")
    received = datetime(2025, 3, 1, 9, 0, tzinfo=LA).astimezone(UTC)
    due = response_due(ccpa, T.ACCESS, received)
    assert extended_due(ccpa, T.ACCESS, due) == end_of(date(2025, 5, 30), LA)  # 90 days in all
    assert extended_due(ccpa, T.ACCESS, due, Period(30, Unit.DAYS)) == end_of(date(2025, 5, 15), LA)
    for asked in (Period(46, Unit.DAYS), Period(1, Unit.MONTHS), Period(5, Unit.BUSINESS_DAYS)):
        with pytest.raises(InvalidInput) as exc:
            extended_due(ccpa, T.ACCESS, due, asked)
        assert str(exc.value) == "the California CCPA/CPRA allows an extension of at most 45 days"
        assert exc.value.field == "period"


def test_gdpr_extension_is_two_further_months_from_the_original_due_date() -> None:
    gdpr = get_regime("gdpr")
    due = response_due(gdpr, T.ACCESS, datetime(2024, 1, 31, 10, 0, tzinfo=UTC))
    dublin = ZoneInfo("Europe/Dublin")
    assert due == end_of(date(2024, 2, 29), dublin)
    assert extended_due(gdpr, T.ACCESS, due) == end_of(date(2024, 4, 29), dublin)
    assert extended_due(gdpr, T.ACCESS, due, Period(1, Unit.MONTHS)) == end_of(
        date(2024, 3, 29), dublin
    )
    with pytest.raises(InvalidInput) as exc:
        extended_due(gdpr, T.ACCESS, due, Period(3, Unit.MONTHS))
    assert str(exc.value) == "the EU GDPR allows an extension of at most 2 months"


def test_no_extension_where_the_law_allows_none() -> None:
    due = datetime(2025, 6, 1, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="allows no extension for opt_out") as exc:
        extended_due(get_regime("ccpa"), T.OPT_OUT, due)
    assert exc.value.field == "period"
    with pytest.raises(InvalidInput, match="Brazil LGPD allows no extension"):
        extended_due(get_regime("lgpd"), T.ACCESS, due)


def test_appeal_windows_and_answers() -> None:
    decided = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
    new_york = ZoneInfo("America/New_York")
    assert appeal_until(get_regime("vcdpa"), T.ERASURE, decided) == end_of(
        date(2025, 8, 1), new_york
    )
    assert appeal_response_due(get_regime("vcdpa"), T.ERASURE, decided) == end_of(
        date(2025, 8, 1), new_york
    )
    denver = ZoneInfo("America/Denver")
    assert appeal_response_due(get_regime("cpa"), T.ACCESS, decided) == end_of(
        date(2025, 7, 17), denver
    )
    assert appeal_response_due(get_regime("ctdpa"), T.ACCESS, decided) is not None
    for key in ("gdpr", "uk_gdpr", "ccpa", "lgpd", "pipeda", "ucpa"):
        assert appeal_until(get_regime(key), T.ACCESS, decided) is None


# --- properties ----------------------------------------------------------------------------

PAIRS = [(r, t) for r in REGIMES.values() for t in r.granted]
moments = st.datetimes(  # hypothesis takes naive bounds and attaches the time zone itself
    min_value=datetime(2001, 1, 1),  # noqa: DTZ001
    max_value=datetime(2089, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
days = st.dates(min_value=date(2001, 1, 1), max_value=date(2089, 12, 31))
periods = st.builds(Period, st.integers(1, 120), st.sampled_from(list(Unit)))


@settings(deadline=None)
@given(pair=st.sampled_from(PAIRS), start=moments)
def test_the_deadline_is_always_after_the_start(
    pair: tuple[Regime, RequestType], start: datetime
) -> None:
    regime, request_type = pair
    due = response_due(regime, request_type, start)
    assert due > start
    assert due.tzinfo is UTC


@settings(deadline=None)
@given(key=st.sampled_from(sorted(REGIMES)), start=moments, period=periods)
def test_any_period_ends_after_the_start(key: str, start: datetime, period: Period) -> None:
    assert add_period(get_regime(key), start, period) > start


@settings(deadline=None)
@given(start=days, months=st.integers(1, 24))
def test_monthly_deadlines_land_on_the_same_day_or_the_months_last(
    start: date, months: int
) -> None:
    unrolled = replace(get_regime("gdpr"), roll_to_working_day=False)
    due = due_date(unrolled, start, Period(months, Unit.MONTHS))
    last = calendar.monthrange(due.year, due.month)[1]
    assert due.day == start.day or (due.day == last and start.day > last)
    assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
    rolled = due_date(get_regime("uk_gdpr"), start, Period(months, Unit.MONTHS))
    assert rolled >= due
    assert get_regime("uk_gdpr").is_working_day(rolled)
    assert rolled - due < timedelta(days=6)


@settings(deadline=None)
@given(key=st.sampled_from(sorted(REGIMES)), start=days, amount=st.integers(1, 40))
def test_business_day_deadlines_land_on_working_days(key: str, start: date, amount: int) -> None:
    regime = get_regime(key)
    due = due_date(regime, start, Period(amount, Unit.BUSINESS_DAYS))
    assert regime.is_working_day(due)
    between = (start + timedelta(days=n) for n in range(1, (due - start).days + 1))
    assert sum(1 for d in between if regime.is_working_day(d)) == amount


@settings(deadline=None)
@given(pair=st.sampled_from([p for p in PAIRS if p[0].rule(p[1]).extension]), start=moments)
def test_an_extension_never_shortens(pair: tuple[Regime, RequestType], start: datetime) -> None:
    regime, request_type = pair
    due = response_due(regime, request_type, start)
    full = extended_due(regime, request_type, due)
    assert full > due
    limit = regime.rule(request_type).extension
    assert limit is not None
    smallest = extended_due(regime, request_type, due, Period(1, limit.unit))
    assert due < smallest <= full
