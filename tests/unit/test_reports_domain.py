"""Report metrics from plain facts: outcomes, denial grounds, days, rounding and windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.reports import (
    CcpaCategory,
    DenialGround,
    Outcome,
    RequestFacts,
    Tally,
    ccpa_report,
    days_window,
    ground_of,
    one_decimal,
    parse_day,
    parse_timezone,
    summary_report,
    year_window,
)
from rightsflow.domain.requests import RequestStatus, RequestType

S = RequestStatus
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
NOW = datetime(2027, 3, 1, tzinfo=UTC)


def facts(
    status: RequestStatus = S.COMPLETED,
    days: float | None = 1,
    type_: RequestType = RequestType.ACCESS,
    **changes: object,
) -> RequestFacts:
    closed = T0 + timedelta(days=days) if days is not None else None
    values: dict[str, object] = {
        "type": type_,
        "regime": "ccpa",
        "status": status,
        "received_at": T0,
        "due_at": T0 + timedelta(days=45),
        "closed_at": closed,
        "completed_at": closed if status is S.COMPLETED else None,
    }
    values.update(changes)
    return RequestFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "changes", "outcome"),
    [
        (S.COMPLETED, {}, Outcome.COMPLIED_IN_WHOLE),
        (S.COMPLETED, {"rows_kept": True}, Outcome.COMPLIED_IN_PART),
        (S.COMPLETED, {"systems_not_done": True}, Outcome.COMPLIED_IN_PART),
        (S.DENIED, {"denial_reason": "no_data_found"}, Outcome.DENIED),
        (S.EXPIRED, {}, Outcome.DENIED),
        (S.CANCELED, {}, Outcome.CANCELED),
        (S.FAILED, {}, Outcome.OPEN),  # still owed
        (S.EXECUTING, {}, Outcome.OPEN),
        (S.AWAITING_VERIFICATION, {}, Outcome.OPEN),
        (S.AWAITING_APPROVAL, {}, Outcome.OPEN),
        (S.RECEIVED, {}, Outcome.OPEN),
    ],
)
def test_every_status_has_one_outcome(
    status: RequestStatus, changes: dict[str, object], outcome: Outcome
) -> None:
    assert facts(status, **changes).outcome is outcome


def test_denial_keys_and_their_7102_grounds() -> None:
    assert facts(S.EXPIRED).denial_key == "not_verified_in_time"
    assert facts(S.DENIED, denial_reason="exemption_applies").denial_key == "exemption_applies"
    assert facts(S.DENIED, denial_reason=None).denial_key == "unspecified"
    assert facts(S.DENIED, denial_reason="made_up").denial_key == "unspecified"
    assert facts(S.COMPLETED).denial_key is None
    assert ground_of("not_verified_in_time") is DenialGround.NOT_VERIFIABLE
    assert ground_of("suspected_fraud") is DenialGround.NOT_VERIFIABLE
    assert ground_of("agent_not_authorized") is DenialGround.NOT_MADE_BY_CONSUMER
    assert ground_of("outside_jurisdiction") is DenialGround.NOT_MADE_BY_CONSUMER
    assert ground_of("exemption_applies") is DenialGround.EXEMPT
    assert ground_of("no_data_found") is DenialGround.OTHER
    assert ground_of("unspecified") is DenialGround.OTHER


def test_days_to_respond_count_decisions_only_and_fall_back_to_completed_at() -> None:
    assert facts(S.COMPLETED, days=2.5).days_to_respond == 2.5
    legacy = facts(S.COMPLETED, days=4, closed_at=None)
    assert legacy.days_to_respond == 4
    assert facts(S.DENIED, days=0.25).days_to_respond == 0.25
    assert facts(S.CANCELED, days=1).days_to_respond is None
    assert facts(S.FAILED, days=None).days_to_respond is None


def test_one_decimal_rounds_half_up() -> None:
    assert one_decimal(2.25) == 2.3  # round() would give 2.2
    assert one_decimal(0.05) == 0.1
    assert one_decimal(7.525) == 7.5
    assert one_decimal(15.791666) == 15.8


def test_tally_mean_median_on_time_and_overdue() -> None:
    tally = Tally()
    tally.add(facts(S.COMPLETED, days=1), NOW)
    tally.add(facts(S.COMPLETED, days=45), NOW)  # exactly at due_at: on time
    tally.add(facts(S.DENIED, days=46, denial_reason="exemption_applies"), NOW)  # late
    tally.add(facts(S.DENIED, days=2.25, denial_reason="no_data_found"), NOW)
    tally.add(facts(S.EXECUTING, days=None), NOW)  # due 2026-07-16: overdue now
    tally.add(facts(S.EXECUTING, days=None, due_at=NOW + timedelta(days=1)), NOW)
    counts = tally.counts()
    assert counts["received"] == 6
    assert (counts["complied"], counts["denied"], counts["open"]) == (2, 2, 2)
    assert (counts["denied_exempt"], counts["denied_other"]) == (1, 1)
    assert counts["responses"] == 4
    assert counts["mean_days"] == 23.6  # 94.25 / 4 = 23.5625
    assert counts["median_days"] == 23.6  # (2.25 + 45) / 2 = 23.625
    assert tally.timeliness() == {"on_time": 3, "on_time_rate": 0.75, "open_overdue": 1}
    assert Tally().counts()["mean_days"] is None
    assert Tally().on_time_rate is None


def test_the_ccpa_year_is_californias() -> None:
    window = year_window(2026, NOW)
    assert window.start == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert window.end == datetime(2027, 1, 1, 8, tzinfo=UTC)
    assert (window.first_day, window.last_day) == (date(2026, 1, 1), date(2026, 12, 31))
    for bad in (1999, 2028):
        with pytest.raises(InvalidInput) as caught:
            year_window(bad, NOW)
        assert caught.value.field == "year"


def test_local_days_follow_daylight_saving() -> None:
    spring = days_window(date(2026, 3, 8), date(2026, 3, 8), "America/Los_Angeles")
    assert spring.end - spring.start == timedelta(hours=23)
    autumn = days_window(date(2026, 11, 1), date(2026, 11, 1), "America/Los_Angeles")
    assert autumn.end - autumn.start == timedelta(hours=25)
    utc = days_window(date(2026, 1, 1), date(2026, 1, 31))
    assert (utc.start, utc.end) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: days_window(date(2026, 2, 1), date(2026, 1, 31)), "to"),
        (lambda: parse_day("2026-13-01", "from"), "from"),
        (lambda: parse_day("yesterday", "to"), "to"),
        (lambda: parse_timezone("Mars/Olympus_Mons"), "tz"),
        (lambda: parse_timezone("../../etc/passwd"), "tz"),
    ],
)
def test_bad_days_and_zones_name_their_field(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field


def test_ccpa_report_groups_by_category_and_sets_restriction_aside() -> None:
    window = year_window(2026, NOW)
    items = [
        facts(type_=RequestType.ACCESS),
        facts(type_=RequestType.PORTABILITY),
        facts(type_=RequestType.ERASURE, rows_kept=True),
        facts(type_=RequestType.RESTRICTION),
    ]
    report = ccpa_report(iter(items), 2026, window, NOW, all_regimes=False)
    assert list(report.rows) == list(CcpaCategory)
    assert report.rows[CcpaCategory.KNOW].received == 2
    assert report.rows[CcpaCategory.DELETE].outcomes[Outcome.COMPLIED_IN_PART] == 1
    assert report.total.received == 3
    assert dict(report.not_reported) == {"restriction": 1}


def test_summary_report_groups_by_regime_and_type() -> None:
    window = days_window(date(2026, 6, 1), date(2026, 6, 1))
    items = [facts(), facts(regime="gdpr"), facts(regime="gdpr")]
    report = summary_report(items, window, None, NOW)
    assert {k: t.received for k, t in report.rows.items()} == {
        ("ccpa", "access"): 1,
        ("gdpr", "access"): 2,
    }
    assert report.total.received == 3
