"""Regulatory reports: the CCPA §7102 metrics for a year, and a summary for any regime and days.

Both stream the request facts out of the unit of work and count them (domain/reports.py says
what each number means). The JSON document and the CSV table carry the same rows: the JSON
`rows` are the CSV lines, column for column, with a few facts about the report around them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.regimes import get_regime
from rightsflow.domain.reports import (
    ALL,
    CCPA_CATEGORY,
    CcpaReport,
    SummaryReport,
    ccpa_report,
    days_window,
    parse_day,
    summary_report,
    year_window,
)
from rightsflow.services.ports import Clock, UnitOfWork

CCPA_REPORT = "ccpa_7102"
SUMMARY_REPORT = "summary"
Cell = str | int | float | None


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


def parse_format(raw: str) -> Format:
    try:
        return Format(raw.strip().lower())
    except ValueError:
        raise InvalidInput("expected one of: json, csv", field="format") from None


def ccpa(
    uow: Callable[[], UnitOfWork], clock: Clock, year: int, *, all_regimes: bool = False
) -> CcpaReport:
    """§7102(a)(1) for calendar `year`: CCPA requests, or everyone's (§7102(b)) if asked."""
    now = clock()
    window = year_window(year, now)
    regimes = None if all_regimes else ("ccpa",)
    with uow() as work:
        facts = work.reports.request_facts(window.start, window.end, regimes)
        return ccpa_report(facts, year, window, now, all_regimes)


def summary(
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    first_day: str,
    last_day: str,
    *,
    regime: str | None = None,
    timezone: str = "UTC",
) -> SummaryReport:
    """Requests received from `first_day` to `last_day` (whole days in `timezone`)."""
    if regime is not None:
        regime = get_regime(regime.strip()).key
    window = days_window(parse_day(first_day, "from"), parse_day(last_day, "to"), timezone)
    now = clock()
    with uow() as work:
        facts = work.reports.request_facts(window.start, window.end, (regime,) if regime else None)
        return summary_report(facts, window, regime, now)


def ccpa_rows(report: CcpaReport) -> list[dict[str, Cell]]:
    """One row per §7102 category, in the statute's order, then the total."""
    rows: list[dict[str, Cell]] = []
    for category, tally in [*report.rows.items(), (ALL, report.total)]:
        types = sorted(t.value for t, c in CCPA_CATEGORY.items() if c == category)
        rows.append({"category": str(category), "types": " ".join(types) or ALL, **tally.counts()})
    return rows


def summary_rows(report: SummaryReport) -> list[dict[str, Cell]]:
    """One row per regime and request type (sorted), then the total."""
    rows: list[dict[str, Cell]] = []
    for (regime, kind), tally in [*sorted(report.rows.items()), ((ALL, ALL), report.total)]:
        rows.append({"regime": regime, "type": kind, **tally.counts(), **tally.timeliness()})
    return rows


def ccpa_document(report: CcpaReport, clock: Clock) -> dict[str, Any]:
    window = report.window
    return {
        "report": CCPA_REPORT,
        "year": report.year,
        "scope": "all_regimes" if report.all_regimes else "ccpa",
        "timezone": window.timezone,
        "from": window.first_day.isoformat(),
        "to": window.last_day.isoformat(),
        "generated_at": clock().isoformat(),
        "rows": ccpa_rows(report),
        "not_reported": dict(sorted(report.not_reported.items())),
    }


def summary_document(report: SummaryReport, clock: Clock) -> dict[str, Any]:
    window = report.window
    return {
        "report": SUMMARY_REPORT,
        "regime": report.regime,
        "timezone": window.timezone,
        "from": window.first_day.isoformat(),
        "to": window.last_day.isoformat(),
        "generated_at": clock().isoformat(),
        "rows": summary_rows(report),
    }


def to_csv(rows: Sequence[Mapping[str, Cell]]) -> str:
    """A header row and the rows; no value is ever personal data (counts and codes only)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()
