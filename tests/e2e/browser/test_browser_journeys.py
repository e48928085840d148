"""Key journeys in Chromium against the whole platform (`rightsflow serve`: Temporal dev server
and worker, SQLite, the shop sample; mail through a local SMTP server), so requests really run
to the end: a subject's erasure from the privacy center, an operator's approval from the console
and the receipt it leaves, and a visitor whose browser sends GPC."""

from __future__ import annotations

import json
import re
import time
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser.browser_flows import search_queue, sign_in
from tests.e2e.browser.browser_servers import (
    OPERATOR_LOGIN,
    OPERATOR_PASSWORD,
    LivePlatform,
    live_platform,
)

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
# The shop sample's synthetic customers; one per journey (a subject has one open request).
OPERATOR_SUBJECT = "customer0000007@shop.example"
ERASURE_SUBJECT = "customer0000003@shop.example"
NO_SCRIPT_SUBJECT = "customer0000005@shop.example"
FINISHED = re.compile(r"completed|failed|canceled", re.IGNORECASE)
CENTER_FINISHED = re.compile(r"Completed|Refused|Withdrawn|problem")
REQUEST_PATH = re.compile(r"/privacy/requests/([0-9a-f-]{36})$")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePlatform]:
    with live_platform(tmp_path_factory.mktemp("live")) as platform:
        yield platform


def _verify_over_rest(live: LivePlatform, request_id: str, token: str, email: str) -> None:
    """The subject's side done over the API (the operator journey is about the console)."""
    answer = httpx.post(
        f"{live.base}/api/v1/subject/requests/{request_id}/code",
        json={"code": live.code_mailed_to(email)},
        headers={"Subject-Token": token},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "awaiting_approval"


def _reload_until(page: Page, status: re.Pattern[str], timeout_s: float = 120) -> None:
    """Reload the page until its status badge matches (a person pressing F5)."""
    badge = page.locator(".badge").first
    deadline = time.monotonic() + timeout_s
    while not status.search(badge.inner_text()):
        assert time.monotonic() < deadline, f"still {badge.inner_text()!r}"
        time.sleep(0.5)
        page.reload()


def test_an_operator_finds_a_request_by_email_approves_it_and_downloads_the_receipt(
    live: LivePlatform, browser: Browser
) -> None:
    with live.rest() as rest:
        answer = rest.post(
            "/api/v1/privacy-requests",
            json={"type": "erasure", "identities": {"email": OPERATOR_SUBJECT}, "regime": "gdpr"},
        )
        assert answer.status_code == 202, answer.text
    request_id, token = answer.json()["id"], answer.json()["subject_token"]
    _verify_over_rest(live, request_id, token, OPERATOR_SUBJECT)
    with browser.new_context(viewport={"width": 1280, "height": 900}) as context:
        page = context.new_page()
        sign_in(page, live.base, OPERATOR_LOGIN, OPERATOR_PASSWORD)
        search_queue(page, OPERATOR_SUBJECT)
        expect(page.get_by_role("status")).to_contain_text("1 request")
        page.get_by_role("link", name=f"Request {request_id[:8]}").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(request_id[:8])
        page.get_by_role("button", name="Approve request").click()
        expect(page.get_by_role("status")).to_be_visible()
        _reload_until(page, FINISHED)
        expect(page.locator(".badge").first).to_have_text(re.compile("completed"))
        link = page.get_by_role("link", name=re.compile("receipt", re.IGNORECASE))
        href = link.get_attribute("href")
        assert href is not None
        # The link is a JSON document, fetched with the page's own session cookie.
        receipt = context.request.get(f"{live.base}{href}")
        assert receipt.ok, receipt.text()
        body = json.loads(receipt.body())
        assert body["verified"] is True
        assert OPERATOR_SUBJECT not in receipt.text()


def _ask_in_the_center(page: Page, live: LivePlatform, right: str, email: str) -> str:
    """The privacy center's form, then the code from the mail; the request's id."""
    page.goto(f"{live.base}/privacy/")
    page.get_by_label(right).check()
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", level=1, name="Your request")).to_be_visible()
    found = REQUEST_PATH.search(page.url)
    assert found is not None, page.url
    page.get_by_label("Code from the email").fill(live.code_mailed_to(email))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_label("Code from the email")).to_have_count(0)
    return found.group(1)


def test_a_subject_asks_for_erasure_confirms_with_the_mailed_code_and_sees_it_complete(
    live: LivePlatform, page: Page
) -> None:
    request_id = _ask_in_the_center(page, live, "Delete your data", ERASURE_SUBJECT)
    expect(page.locator(".badge")).to_have_text("Waiting for approval by our privacy team.")
    with live.rest() as rest:
        approved = rest.post(f"/api/v1/privacy-requests/{request_id}/approve")
        assert approved.status_code == 200, approved.text
    _reload_until(page, CENTER_FINISHED)
    expect(page.locator(".badge")).to_have_text("Completed.")
    # Nothing of the subject's in the page itself (the email was typed, never shown back).
    assert ERASURE_SUBJECT not in page.content()


def test_without_javascript_a_subject_gets_a_copy_and_downloads_it(
    live: LivePlatform, browser: Browser
) -> None:
    with browser.new_context(java_script_enabled=False, accept_downloads=True) as context:
        page = context.new_page()
        _ask_in_the_center(page, live, "Get a copy of your data", NO_SCRIPT_SUBJECT)
        _reload_until(page, CENTER_FINISHED)
        expect(page.locator(".badge")).to_have_text("Completed.")
        with page.expect_download() as started:
            page.get_by_role("button", name="Download your data").click()
        archive = zipfile.ZipFile(started.value.path())
        assert "data.json" in archive.namelist()


def test_a_visitor_with_gpc_sees_sale_and_sharing_off_and_the_signal_honoured(
    live: LivePlatform, browser: Browser
) -> None:
    with browser.new_context(extra_http_headers={"Sec-GPC": "1"}) as context:
        page = context.new_page()
        page.goto(f"{live.base}/privacy/preferences")
        sale = page.get_by_role("group", name="Sale and sharing")
        expect(sale.get_by_label("Off", exact=True)).to_be_checked()
        expect(sale.get_by_label("On", exact=True)).not_to_be_checked()
        # Off because of the signal (the default is off too): the page says which it is.
        expect(sale).to_contain_text("Global Privacy Control")
        advertising = page.get_by_role("group", name="Targeted advertising")
        expect(advertising.get_by_label("Off", exact=True)).to_be_checked()
        expect(page.get_by_role("status")).to_contain_text("Global Privacy Control")
    with browser.new_context() as context:  # the same page without the signal: no notice
        page = context.new_page()
        page.goto(f"{live.base}/privacy/preferences")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_text("Global Privacy Control")).to_have_count(0)
