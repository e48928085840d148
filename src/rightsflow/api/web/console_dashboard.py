"""The console's dashboard (`/console/dashboard`): requests received per day or week by status
and by regime over 30, 90 or 365 days, the on-time rate and median days to respond (as the
summary report counts them), and the requests past their due date.

Charts are SVG drawn here (web/charts.py), each with a table of the same numbers. Needs
reports:read, like the REST reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import Response

from rightsflow.api.deps import api_deps
from rightsflow.api.web.charts import line_chart, stacked_bars
from rightsflow.api.web.console_auth import OperatorDep
from rightsflow.api.web.pages import render
from rightsflow.domain.access import Scope
from rightsflow.domain.console_metrics import PERIODS, Activity, parse_period
from rightsflow.services import console_metrics

router = APIRouter()
OVERDUE_SHOWN = 50


@dataclass(frozen=True)
class Series:
    """A chart and its table: one row per series, one column per bucket."""

    title: str
    chart: Markup
    rows: Mapping[str, Sequence[int]]


def _label(name: str) -> str:
    return name.replace("_", " ")


def _series(activity: Activity, labels: list[str]) -> list[Series]:
    per = "day" if activity.step == 1 else "week"
    out = []
    for title, rows in (
        (f"Requests received per {per}, by status", activity.by_status),
        (f"Requests received per {per}, by regime", activity.by_regime),
    ):
        named = {_label(k): v for k, v in rows.items()}
        out.append(Series(title, stacked_bars(labels, named, title=title), named))
    return out


def _received_line(activity: Activity, labels: list[str]) -> Markup:
    totals = [sum(v[i] for v in activity.by_status.values()) for i in range(len(labels))]
    points: list[tuple[str, float | None]] = [
        (lab, float(n)) for lab, n in zip(labels, totals, strict=True)
    ]
    return line_chart(points, title="Requests received (all)")


@router.get("/dashboard")
async def dashboard(
    request: Request,
    operator: OperatorDep,
    days: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    operator.require(Scope.REPORTS_READ)
    period = parse_period(days)
    platform = api_deps(request).platform
    activity = await asyncio.to_thread(console_metrics.request_activity, platform, period)
    late, late_total = await asyncio.to_thread(console_metrics.overdue, platform, OVERDUE_SHOWN)
    labels = [start.isoformat() for start in activity.starts]
    context = {
        "operator": operator,
        "section": "dashboard",
        "period": period,
        "periods": PERIODS,
        "activity": activity,
        "labels": labels,
        "series": _series(activity, labels),
        "received_chart": _received_line(activity, labels),
        "overdue": late,
        "overdue_total": late_total,
        "label": _label,
    }
    return render(request, "console/dashboard.html", context)
