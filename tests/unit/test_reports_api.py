"""/api/v1/reports over a fake report source: what is asked of the store, JSON and CSV that
agree, and 422 problems that name the field."""

from __future__ import annotations

import csv
import dataclasses
import hmac
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.domain.reports import RequestFacts
from rightsflow.domain.requests import RequestStatus, RequestType
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, TestClient, all_ok, make_platform

NOW = datetime(2027, 2, 1, tzinfo=UTC)
T0 = datetime(2026, 5, 1, tzinfo=UTC)


@dataclass
class FakeReports:
    facts: list[RequestFacts]
    asked: list[tuple[datetime, datetime, tuple[str, ...] | None]] = field(default_factory=list)

    def request_facts(
        self, start: datetime, end: datetime, regimes: Sequence[str] | None = None
    ) -> Iterator[RequestFacts]:
        self.asked.append((start, end, tuple(regimes) if regimes is not None else None))
        wanted = set(regimes) if regimes is not None else None
        return iter(
            f
            for f in self.facts
            if start <= f.received_at < end and (wanted is None or f.regime in wanted)
        )


@dataclass
class ReportsOnlyUow:
    reports: FakeReports

    def __enter__(self) -> ReportsOnlyUow:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        return None


def _facts(kind: RequestType, status: RequestStatus, days: float | None, **more: Any) -> Any:
    closed = T0 + timedelta(days=days) if days is not None else None
    completed = closed if status is RequestStatus.COMPLETED else None
    regime = more.pop("regime", "ccpa")
    return RequestFacts(
        kind, regime, status, T0, T0 + timedelta(days=45), closed, completed, **more
    )


FACTS = [
    _facts(RequestType.ACCESS, RequestStatus.COMPLETED, 3),
    _facts(RequestType.ERASURE, RequestStatus.COMPLETED, 10, rows_kept=True),
    _facts(RequestType.ERASURE, RequestStatus.DENIED, 2, denial_reason="exemption_applies"),
    _facts(RequestType.OPT_OUT, RequestStatus.RECEIVED, None),
    _facts(RequestType.ACCESS, RequestStatus.COMPLETED, 50, regime="gdpr"),
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, FakeReports]]:
    source = FakeReports(FACTS)
    platform, _ = make_platform()
    platform = dataclasses.replace(platform, uow=lambda: ReportsOnlyUow(source), clock=lambda: NOW)
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    app = create_app(Settings(data_dir=tmp_path / "data"), deps)
    with TestClient(app, headers=AUTH) as client:
        yield client, source


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _as_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


def test_ccpa_json_and_csv_carry_the_same_rows(api: tuple[TestClient, FakeReports]) -> None:
    client, source = api
    answer = client.get("/api/v1/reports/ccpa", params={"year": 2026})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["report"], body["year"], body["scope"]) == ("ccpa_7102", 2026, "ccpa")
    assert (body["timezone"], body["from"], body["to"]) == (
        "America/Los_Angeles",
        "2026-01-01",
        "2026-12-31",
    )
    rows = {row["category"]: row for row in body["rows"]}
    assert list(rows) == ["delete", "correct", "know", "opt_out", "limit", "all"]
    assert (rows["delete"]["complied_in_part"], rows["delete"]["denied_exempt"]) == (1, 1)
    assert (rows["opt_out"]["received"], rows["opt_out"]["open"]) == (1, 1)
    assert rows["all"]["received"] == 4  # the gdpr request is not a CCPA request
    assert source.asked[-1] == (
        datetime(2026, 1, 1, 8, tzinfo=UTC),
        datetime(2027, 1, 1, 8, tzinfo=UTC),
        ("ccpa",),
    )
    as_csv = client.get("/api/v1/reports/ccpa", params={"year": 2026, "format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="ccpa-2026.csv"' in as_csv.headers["content-disposition"]
    assert as_csv.text.splitlines()[0].startswith("category,types,received,complied,")
    assert _csv_rows(as_csv.text) == _as_text(body["rows"])


def test_ccpa_for_all_regimes_asks_for_every_regime(api: tuple[TestClient, FakeReports]) -> None:
    client, source = api
    answer = client.get("/api/v1/reports/ccpa", params={"year": 2026, "all_regimes": "true"})
    assert answer.json()["scope"] == "all_regimes"
    assert answer.json()["rows"][-1]["received"] == 5
    assert source.asked[-1][2] is None


def test_summary_has_on_time_rate_and_agrees_with_its_csv(
    api: tuple[TestClient, FakeReports],
) -> None:
    client, source = api
    params = {"from": "2026-05-01", "to": "2026-05-01"}
    body = client.get("/api/v1/reports/summary", params=params).json()
    rows = {(r["regime"], r["type"]): r for r in body["rows"]}
    assert rows[("gdpr", "access")]["on_time_rate"] == 0.0  # 50 days, due in 45
    assert rows[("ccpa", "opt_out")]["open_overdue"] == 1
    assert rows[("all", "all")]["on_time"] == 3
    assert rows[("all", "all")]["on_time_rate"] == 0.75
    assert source.asked[-1] == (T0, T0 + timedelta(days=1), None)
    text = client.get("/api/v1/reports/summary", params={**params, "format": "CSV"}).text
    assert _csv_rows(text) == _as_text(body["rows"])
    client.get("/api/v1/reports/summary", params={**params, "regime": "gdpr", "tz": "Europe/Paris"})
    assert source.asked[-1] == (T0 - timedelta(hours=2), T0 + timedelta(hours=22), ("gdpr",))


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("ccpa", {"year": "last"}, "year"),
        ("ccpa", {"year": "1999"}, "year"),
        ("ccpa", {"year": "2028"}, "year"),
        ("ccpa", {}, "year"),
        ("ccpa", {"year": "2026", "format": "xml"}, "format"),
        ("summary", {"to": "2026-01-31"}, "from"),
        ("summary", {"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ("summary", {"from": "2026-02-01", "to": "2026-01-31"}, "to"),
        ("summary", {"from": "2026-01-01", "to": "2026-01-31", "regime": "mars"}, "regime"),
        ("summary", {"from": "2026-01-01", "to": "2026-01-31", "tz": "Moon/Base"}, "tz"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    api: tuple[TestClient, FakeReports], path: str, params: dict[str, str], field: str
) -> None:
    client, source = api
    answer = client.get(f"/api/v1/reports/{path}", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert source.asked == []


def test_reports_need_the_admin_token(api: tuple[TestClient, FakeReports]) -> None:
    client, source = api
    answer = client.get(
        "/api/v1/reports/ccpa", params={"year": 2026}, headers={"Authorization": "Bearer nope"}
    )
    assert answer.status_code == 401
    assert source.asked == []
