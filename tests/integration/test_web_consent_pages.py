"""The console's consent pages over the real app and SQLite: the catalogue lists the standard
purposes, the notices' versions, opt-out rates counted from people's current choices and the
experiments; an experiment's page shows its variants' results; stopping it from the page is
audited by the experiments service; a role without consent:read gets a 403 page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.domain.access import Role
from rightsflow.domain.audit_chain import AuditFilter
from tests.support.web_stack import WebStack, csrf_of, web_stack

CONSENT = "/api/v1/consent"
EXPERIMENTS = f"{CONSENT}/experiments"
PAGE = "/console/consent"
EXPERIMENT = {
    "key": "banner_copy",
    "notice_key": "banner",
    "purpose": "analytics",
    "salt": "fixed-salt",
    "variants": [
        {"name": "control", "notice_version": 1},
        {"name": "short", "notice_version": 2},
    ],
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[WebStack]:
    with web_stack(tmp_path, customers=2, rate_limits_enabled=False) as built:
        yield built


def _rest(stack: WebStack, path: str, body: Any, status: int = 201) -> Any:
    answer = stack.client().post(path, json=body, headers=stack.owner)
    assert answer.status_code == status, answer.text
    return answer.json()


def _choose(stack: WebStack, subject: str, **choices: bool) -> None:
    body = {"choices": [{"purpose": k, "granted": v} for k, v in choices.items()]}
    _rest(stack, f"{CONSENT}/{subject}", body)


def _experiment(stack: WebStack) -> dict[str, int]:
    """Two notice versions, a running experiment, and 12 subjects shown their variant; each
    subject's choice alternates. Returns the exposures per variant."""
    for wording in ("We use analytics.", "Analytics?"):
        body = {"text": wording, "purposes": ["analytics"]}
        _rest(stack, f"{CONSENT}/notices/banner/versions", body)
    _rest(stack, EXPERIMENTS, EXPERIMENT)
    _rest(stack, f"{EXPERIMENTS}/banner_copy/start", None, 200)
    shown: dict[str, int] = {}
    for n in range(12):
        subject = {"subject": f"user_id:exp-{n}"}
        variant = _rest(stack, f"{EXPERIMENTS}/banner_copy/assignments", subject, 200)["variant"]
        _rest(stack, f"{EXPERIMENTS}/banner_copy/exposures", subject)
        _rest(stack, f"{EXPERIMENTS}/banner_copy/outcomes", {**subject, "granted": n % 2 == 0})
        shown[variant] = shown.get(variant, 0) + 1
    return shown


def _row(html: str, table: str, key: str) -> list[str]:
    body = html.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    found = re.search(
        rf'<th scope="row">(?:<a [^>]*>)?{re.escape(key)}(?:</a>)?.*?</tr>', body, re.S
    )
    assert found is not None, (table, key)
    return [c.strip() for c in re.findall(r"<td>(.*?)</td>", found.group(0), re.S)]


def test_the_catalogue_lists_purposes_choices_notices_and_experiments(stack: WebStack) -> None:
    _choose(stack, "user_id:a", analytics=True, advertising=False)
    _choose(stack, "user_id:b", analytics=False, advertising=False)
    _choose(stack, "user_id:c", analytics=False)
    _choose(stack, "user_id:c", analytics=True)  # a change of mind: only the current choice counts
    _experiment(stack)
    page = stack.signed_in(Role.REVIEWER).get(PAGE)
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Consent</h1>" in html
    for key in ("essential", "analytics", "personalisation", "advertising", "sale_sharing"):
        assert f'<th scope="row">{key}</th>' in html
    assert _row(html, "purposes", "sale_sharing")[2:4] == ["yes", "no"]  # GPC, essential
    assert _row(html, "purposes", "essential")[3] == "yes"
    assert _row(html, "choices", "analytics") == ["2", "1", "33.3 %"]
    assert _row(html, "choices", "advertising") == ["0", "2", "100.0 %"]
    assert _row(html, "choices", "personalisation") == ["0", "0", "\N{EN DASH}"]
    assert 'aria-label="Opt-out rate per purpose (95 % interval)"' in html
    banner = html.split('<table id="notices">', 1)[1].split("</table>", 1)[0]
    assert banner.count('<th scope="row">banner</th>') == 2
    assert _row(html, "experiments", "banner_copy")[2:4] == [
        "control, short",
        '<span class="badge pending">running</span>',
    ]
    assert 'href="/console/consent/experiments/banner_copy"' in html


def test_an_experiments_page_shows_each_variants_results(stack: WebStack) -> None:
    shown = _experiment(stack)
    page = stack.signed_in(Role.REVIEWER).get(f"{PAGE}/experiments/banner_copy")
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Experiment banner_copy</h1>" in html
    for name in ("control", "short"):
        cells = _row(html, "variants", name)
        assigned, exposed = int(cells[1]), int(cells[2])
        assert assigned == exposed == shown.get(name, 0)
        assert f"<title>{name}: " in html or not exposed  # a bar in the chart when exposed
    assert sum(shown.values()) == 12
    assert 'id="comparisons"' in html
    assert _row(html, "comparisons", "short")[0].endswith("points")
    assert 'id="srm"' in html
    # A reviewer reads; only consent:write may stop.
    assert "Stop experiment" not in html


def test_stopping_an_experiment_from_its_page(stack: WebStack) -> None:
    _experiment(stack)
    browser = stack.signed_in(Role.PRIVACY_OPERATOR)
    page = browser.get(f"{PAGE}/experiments/banner_copy")
    assert "Stop experiment" in page.text
    stop = browser.post(
        f"{PAGE}/experiments/banner_copy/stop", data={"csrf_token": csrf_of(page.text)}
    )
    assert stop.status_code == 303, stop.text
    assert stop.headers["location"] == f"{PAGE}/experiments/banner_copy?done=stopped"
    after = browser.get(stop.headers["location"]).text
    assert "The experiment is stopped" in after
    assert "Stop experiment" not in after
    got = stack.client().get(f"{EXPERIMENTS}/banner_copy", headers=stack.owner).json()
    assert got["status"] == "stopped"
    with stack.runtime.platform.uow() as uow:
        events = uow.audit.search(AuditFilter(action="consent.experiment_stopped"), None, 10)
    # Audited once, as the signed-in person (an id, never their login).
    assert [(e.actor.split(":")[0], e.detail.get("key")) for e in events] == [
        ("user", "banner_copy")
    ]


def test_stopping_needs_the_forms_token(stack: WebStack) -> None:
    _experiment(stack)
    browser = stack.signed_in(Role.PRIVACY_OPERATOR)
    answer = browser.post(f"{PAGE}/experiments/banner_copy/stop", data={"csrf_token": "forged"})
    assert answer.status_code == 403
    got = stack.client().get(f"{EXPERIMENTS}/banner_copy", headers=stack.owner).json()
    assert got["status"] == "running"


def test_a_reviewer_cannot_stop_an_experiment(stack: WebStack) -> None:
    _experiment(stack)
    browser = stack.signed_in(Role.REVIEWER)
    token = csrf_of(browser.get(PAGE + "/experiments/banner_copy").text)
    answer = browser.post(f"{PAGE}/experiments/banner_copy/stop", data={"csrf_token": token})
    assert answer.status_code == 403


def test_a_role_without_consent_read_gets_a_403_page(stack: WebStack) -> None:
    browser = stack.signed_in(Role.VIEWER)
    for path in (PAGE, f"{PAGE}/experiments/banner_copy"):
        answer = browser.get(path)
        assert answer.status_code == 403, path
        assert "consent:read" in answer.text
        assert "text/html" in answer.headers["content-type"]


def test_an_unknown_experiment_is_a_404_page(stack: WebStack) -> None:
    answer = stack.signed_in(Role.REVIEWER).get(f"{PAGE}/experiments/no_such_thing")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]
