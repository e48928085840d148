"""The console dashboard over the real app and SQLite: requests set up through the REST API in
different states and regimes show up in the right counts, charts and tables; an overdue
request is listed with a link to its page; a wrong period is a 422 page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from rightsflow.domain.access import Role
from rightsflow.storage.tables import privacy_requests
from tests.support.web_stack import WebStack, web_stack

REQUESTS = "/api/v1/privacy-requests"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[WebStack]:
    with web_stack(tmp_path, customers=3) as built:
        yield built


def _submit(stack: WebStack, n: int, kind: str, regime: str) -> str:
    body = {"type": kind, "identities": {"email": f"customer000000{n}@shop.example"}}
    body["regime"] = regime
    headers = {**stack.owner, "Idempotency-Key": f"dash-{n}"}
    answer = stack.client().post(REQUESTS, json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def _seed(stack: WebStack) -> dict[str, str]:
    ids = {
        "waiting": _submit(stack, 1, "erasure", "gdpr"),
        "denied": _submit(stack, 2, "access", "ccpa"),
        "canceled": _submit(stack, 3, "access", "ccpa"),
    }
    api = stack.client()
    denied = api.post(
        f"{REQUESTS}/{ids['denied']}/deny",
        json={"reason": "suspected_fraud"},
        headers=stack.owner,
    )
    assert denied.status_code == 200, denied.text
    canceled = api.post(f"{REQUESTS}/{ids['canceled']}/cancel", headers=stack.owner)
    assert canceled.status_code in (200, 202), canceled.text
    return ids


def _figure(html: str, card: str) -> str:
    found = re.search(rf'id="fig-{card}">.*?<div class="figure">([^<]*)</div>', html, re.S)
    assert found is not None, card
    return found.group(1).strip()


def _table_totals(html: str, title: str) -> dict[str, int]:
    """Column name -> sum over the rows of the table captioned `title`."""
    found = re.search(rf"<caption[^>]*>{re.escape(title)}</caption>(.*?)</table>", html, re.S)
    assert found is not None, title
    table = found.group(1)
    names = re.findall(r'<th scope="col">([^<]*)</th>', table)[1:]
    totals = dict.fromkeys(names, 0)
    for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S):
        cells = [int(c) for c in re.findall(r"<td>(\d+)</td>", row)]
        for name, value in zip(names, cells, strict=True):
            totals[name] += value
    return totals


def test_the_dashboard_counts_requests_by_status_and_regime(stack: WebStack) -> None:
    _seed(stack)
    page = stack.signed_in(Role.VIEWER).get("/console/dashboard?days=30")
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Dashboard</h1>" in html
    assert _figure(html, "received") == "3"
    # One decided (the denial, on the day it came in): on time, 0 days.
    assert _figure(html, "on-time") == "100.0 %"
    assert _figure(html, "median") == "0.0"
    assert _figure(html, "overdue") == "0"
    by_status = _table_totals(html, "Requests received per day, by status")
    assert by_status == {"awaiting verification": 1, "denied": 1, "canceled": 1, "Total": 3}
    by_regime = _table_totals(html, "Requests received per day, by regime")
    assert by_regime == {"ccpa": 2, "gdpr": 1, "Total": 3}
    # Charts are images with names; the legend names each series.
    assert 'role="img" viewBox' in html
    assert 'aria-label="Requests received per day, by regime"' in html
    assert ">gdpr</text>" in html
    assert "No open request is past its due date." in html


def test_longer_periods_count_per_week(stack: WebStack) -> None:
    _seed(stack)
    html = stack.signed_in(Role.VIEWER).get("/console/dashboard?days=365").text
    by_regime = _table_totals(html, "Requests received per week, by regime")
    assert by_regime == {"ccpa": 2, "gdpr": 1, "Total": 3}
    assert html.count('<tr><th scope="row">') >= 2 * 52
    assert 'href="/console/dashboard?days=365" aria-current="page"' in html


def test_an_overdue_request_is_listed_with_a_link(stack: WebStack) -> None:
    ids = _seed(stack)
    # Time passes: the open request's deadline is behind us (closed ones are never overdue).
    now = stack.runtime.platform.clock()
    late = sa.update(privacy_requests).values(due_at=now - timedelta(days=2))
    with stack.runtime.engine.begin() as conn:
        conn.execute(late.where(privacy_requests.c.id.in_([ids["waiting"], ids["denied"]])))
    html = stack.signed_in(Role.VIEWER).get("/console/dashboard").text
    assert _figure(html, "overdue") == "1"
    overdue = html.split('<table id="overdue">', 1)[1].split("</table>", 1)[0]
    assert f'<a href="/console/requests/{ids["waiting"]}">' in overdue
    assert ids["denied"] not in overdue
    assert ids["canceled"] not in overdue
    assert "erasure" in overdue
    assert "gdpr" in overdue


def test_a_period_not_offered_is_a_422_page(stack: WebStack) -> None:
    page = stack.signed_in(Role.VIEWER).get("/console/dashboard?days=7")
    assert page.status_code == 422
    assert "<h1" in page.text


def test_the_dashboard_needs_a_session(stack: WebStack) -> None:
    answer = stack.client().get("/console/dashboard")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=/console/dashboard")
