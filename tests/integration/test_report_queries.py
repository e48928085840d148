"""The report facts query and the reports built on it, on SQLite and a real PostgreSQL server,
over the hand-made year in tests/support/report_data.py. Every number is worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from rightsflow.domain.reports import year_window
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.services import reports
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.report_queries import facts_query
from rightsflow.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.report_data import NOW, seed_requests


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'app.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        server.create_database("rf_reports")
        url = server.url("rf_reports")
    upgrade_database(url)
    engine = make_engine(url)
    seed_requests(engine)
    yield engine
    engine.dispose()


def _clock() -> Any:
    return NOW


def _ccpa(engine: Engine, all_regimes: bool = False) -> dict[str, dict[str, Any]]:
    report = reports.ccpa(SqlUnitOfWorkFactory(engine), _clock, 2026, all_regimes=all_regimes)
    return {str(row["category"]): row for row in reports.ccpa_rows(report)}


def _summary(engine: Engine, first: str, last: str, **options: Any) -> dict[tuple[Any, Any], Any]:
    report = reports.summary(SqlUnitOfWorkFactory(engine), _clock, first, last, **options)
    return {(row["regime"], row["type"]): row for row in reports.summary_rows(report)}


def _expect(row: dict[str, Any], **expected: Any) -> None:
    assert {name: row[name] for name in expected} == expected


def test_ccpa_year_counts_each_category_by_hand(engine: Engine) -> None:
    rows = _ccpa(engine)
    # K1..K8 (K0 is 2025 in California); K3 in part (a system overdue); K4 denied, K5 expired.
    _expect(rows["know"], received=8, complied=4, complied_in_whole=3, complied_in_part=1,
            denied=2, canceled=1, open=1, types="access portability")  # fmt: skip
    # days 2, 10.5, 45, 3, 30, 4.25 (K7 closed before closed_at existed: completed_at)
    _expect(rows["know"], responses=6, mean_days=15.8, median_days=7.4)
    _expect(rows["know"], denied_not_verifiable=2, denied_reason_identity_not_verified=1,
            denied_reason_not_verified_in_time=1)  # fmt: skip
    # D1..D6, D8 (D7 is 2027). D2 kept 3 rows under an exemption, D8 a system could not comply;
    # D1 kept nothing, D3 found rows only where it masked them: both in whole.
    _expect(rows["delete"], received=7, complied=4, complied_in_whole=2, complied_in_part=2,
            denied=2, canceled=0, open=1)  # fmt: skip
    _expect(rows["delete"], responses=6, mean_days=9.3, median_days=6.0)
    _expect(rows["delete"], denied_exempt=1, denied_other=1,
            denied_reason_manifestly_unfounded_or_excessive=1)  # fmt: skip
    _expect(rows["correct"], received=3, complied_in_whole=1, denied=2)
    _expect(rows["correct"], denied_not_made_by_consumer=2, responses=3, mean_days=0.9,
            median_days=1.0)  # fmt: skip
    # 0.05 and 15 days: 7.525, half up to one decimal
    _expect(rows["opt_out"], received=3, complied=2, open=1, responses=2, mean_days=7.5,
            median_days=7.5)  # fmt: skip
    _expect(rows["limit"], received=2, complied=1, denied=1, denied_not_verifiable=1,
            mean_days=1.5, median_days=1.5)  # fmt: skip


def test_ccpa_total_adds_up_and_leaves_out_restriction_and_other_regimes(engine: Engine) -> None:
    total = _ccpa(engine)["all"]
    _expect(total, received=23, complied=12, complied_in_whole=9, complied_in_part=3, denied=7,
            canceled=1, open=3)  # fmt: skip
    # 19 responses; 171.3 days in all; the 10th smallest is 3.0
    _expect(total, responses=19, mean_days=9.0, median_days=3.0)
    _expect(total, denied_not_verifiable=3, denied_not_made_by_consumer=2, denied_exempt=1,
            denied_other=1)  # fmt: skip
    report = reports.ccpa(SqlUnitOfWorkFactory(engine), _clock, 2026)
    assert dict(report.not_reported) == {"restriction": 1}


def test_ccpa_for_all_regimes_adds_gdpr_requests(engine: Engine) -> None:
    rows = _ccpa(engine, all_regimes=True)
    # + G1 (access, 10 days) in know; + G2 (open) and G3 (canceled) in delete
    _expect(rows["know"], received=9, complied_in_whole=4, responses=7, mean_days=15.0,
            median_days=10.0)  # fmt: skip
    _expect(rows["delete"], received=9, canceled=1, open=2)
    _expect(rows["all"], received=26)


def test_summary_days_are_utc_by_default(engine: Engine) -> None:
    rows = _summary(engine, "2026-01-01", "2026-12-31", regime="ccpa")
    # K0 is in 2026 in UTC, D6 is not. K4 was answered after its due date, D2 too.
    access = rows[("ccpa", "access")]
    _expect(access, received=8, complied=4, complied_in_whole=3, complied_in_part=1, denied=2,
            canceled=1, open=1, responses=6, mean_days=14.2, median_days=3.6)  # fmt: skip
    _expect(access, on_time=5, on_time_rate=0.8333, open_overdue=1)
    _expect(rows[("ccpa", "erasure")], received=6, open=0, on_time=5, on_time_rate=0.8333,
            open_overdue=0)  # fmt: skip
    _expect(rows[("ccpa", "opt_out")], open_overdue=1)  # O3, due 2027-01-10
    _expect(rows[("all", "all")], received=24, open_overdue=2)
    assert list(rows)[-1] == ("all", "all")
    assert ("gdpr", "access") not in rows


def test_summary_in_los_angeles_on_the_day_clocks_go_forward(engine: Engine) -> None:
    # 2026-03-08 in Los Angeles is 23 hours: 08:00Z to 07:00Z the next day. G2 (06:30Z) is in,
    # G3 (07:30Z) is not.
    rows = _summary(engine, "2026-03-08", "2026-03-08", timezone="America/Los_Angeles")
    assert set(rows) == {("ccpa", "erasure"), ("gdpr", "erasure"), ("all", "all")}
    _expect(rows[("ccpa", "erasure")], received=1, complied_in_whole=1, mean_days=1.0,
            on_time_rate=1.0)  # fmt: skip
    _expect(rows[("gdpr", "erasure")], received=1, open=1, open_overdue=1, responses=0,
            mean_days=None)  # fmt: skip


def test_facts_stream_in_batches_and_name_no_personal_data(engine: Engine) -> None:
    window = year_window(2026, NOW, "UTC")
    with SqlUnitOfWork(engine) as uow:
        facts = uow.reports.request_facts(window.start, window.end, ("gdpr",))
        assert not isinstance(facts, list)  # an iterator, consumed inside the unit of work
        got = sorted((f.type, f.status) for f in facts)
    assert got == [
        (RequestType.ACCESS, RequestStatus.COMPLETED),
        (RequestType.ERASURE, RequestStatus.CANCELED),
        (RequestType.ERASURE, RequestStatus.EXECUTING),
    ]
    sql = str(facts_query(engine.dialect.name, window.start, window.end, None))
    for private in ("sealed_identities", "result_pages", "sealed_rows", "identity_types"):
        assert private not in sql


def test_an_empty_range_has_only_a_zero_total(engine: Engine) -> None:
    rows = _summary(engine, "2020-01-01", "2020-12-31", regime="lgpd")
    assert list(rows) == [("all", "all")]
    _expect(rows[("all", "all")], received=0, responses=0, mean_days=None, on_time_rate=None)
