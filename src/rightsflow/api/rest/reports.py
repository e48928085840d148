"""/api/v1/reports: the CCPA §7102 metrics for a year and a summary for any regime and days.

Both answer JSON by default and CSV (`text/csv`, a header row) with `format=csv`; the JSON
`rows` are the CSV lines. Definitions: domain/reports.py and the README.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, Security
from fastapi.responses import JSONResponse

from rightsflow.api.auth import AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.regimes import REGIMES
from rightsflow.services import reports
from rightsflow.services.reports import Cell, Format

router = APIRouter(
    prefix="/api/v1/reports",
    tags=["reports"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 422),
)

_CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_REPORT_EXAMPLE = {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}
# What the services accept, for the OpenAPI document (the services still check and name the
# field). The latest year is the current one, so only the earliest is a fixed bound.
_YEAR: dict[str, Any] = {"minimum": 2000}
_FORMAT: dict[str, Any] = {"enum": [f.value for f in Format]}
_DATE: dict[str, Any] = {"format": "date"}
_REGIMES: dict[str, Any] = {"enum": sorted(REGIMES)}


def _answer(
    document: dict[str, Any], rows: list[dict[str, Cell]], fmt: Format, filename: str
) -> Response:
    headers = {"Cache-Control": "no-store"}
    if fmt is Format.CSV:
        headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return Response(reports.to_csv(rows), media_type=_CSV_MEDIA_TYPE, headers=headers)
    return JSONResponse(document, headers=headers)


@router.get(
    "/ccpa",
    summary="CCPA §7102 metrics for a calendar year (received, complied, denied, days)",
    response_class=Response,
    responses={200: {"content": _REPORT_EXAMPLE, "description": "The report"}},
)
@requires(Scope.REPORTS_READ)
def ccpa_report(
    *,
    platform: PlatformDep,
    year: Annotated[
        int, Query(description="The calendar year (California time)", json_schema_extra=_YEAR)
    ],
    fmt: Annotated[
        str, Query(alias="format", description="json or csv", json_schema_extra=_FORMAT)
    ] = "json",
    all_regimes: Annotated[
        bool, Query(description="Count every individual's requests, not only CCPA (§7102(b))")
    ] = False,
) -> Response:
    chosen = reports.parse_format(fmt)
    report = reports.ccpa(platform.uow, platform.clock, year, all_regimes=all_regimes)
    document = reports.ccpa_document(report, platform.clock)
    return _answer(document, document["rows"], chosen, f"ccpa-{year}")


@router.get(
    "/summary",
    summary="Counts per regime and request type for a range of days, with on-time rate",
    response_class=Response,
    responses={200: {"content": _REPORT_EXAMPLE, "description": "The report"}},
)
@requires(Scope.REPORTS_READ)
def summary_report(
    *,
    platform: PlatformDep,
    first_day: Annotated[
        str, Query(alias="from", description="First day", json_schema_extra=_DATE)
    ],
    last_day: Annotated[
        str, Query(alias="to", description="Last day (included)", json_schema_extra=_DATE)
    ],
    regime: Annotated[
        str | None, Query(description="One regime; default all", json_schema_extra=_REGIMES)
    ] = None,
    tz: Annotated[str, Query(description="Time zone the days are in (IANA name)")] = "UTC",
    fmt: Annotated[
        str, Query(alias="format", description="json or csv", json_schema_extra=_FORMAT)
    ] = "json",
) -> Response:
    chosen = reports.parse_format(fmt)
    report = reports.summary(
        platform.uow, platform.clock, first_day, last_day, regime=regime, timezone=tz
    )
    document = reports.summary_document(report, platform.clock)
    name = f"summary-{report.window.first_day}-{report.window.last_day}"
    return _answer(document, document["rows"], chosen, name)
