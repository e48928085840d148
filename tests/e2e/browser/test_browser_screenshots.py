"""Screenshots of the main pages for docs/web_testing.md, so a reader sees them without running
anything. Taken only with RIGHTSFLOW_SCREENSHOTS=1 (CI must not rewrite the committed files):

    RIGHTSFLOW_SCREENSHOTS=1 python -m pytest -q -p no:cacheprovider \\
        tests/e2e/browser/test_browser_screenshots.py

Chromium at 1280x900 (whole page), English and UTC, over the page server's fixed data (the shop
sample's synthetic customers); the request page is a completed erasure on the live platform, so
its plan graph and receipt show. Always: every committed screenshot is a 1280-wide PNG that the
page embeds."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.browser.browser_env import new_context
from tests.e2e.browser.browser_servers import (
    OPERATOR_LOGIN,
    OPERATOR_PASSWORD,
    LivePlatform,
    PageServer,
    live_platform,
)
from tests.e2e.browser.browser_site import (
    Site,
    center_request,
    confirm_code,
    console_session,
    seed,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "docs" / "screenshots"
DOC = ROOT / "docs" / "web_testing.md"
CONSOLE_SHOTS = {
    "console-login": "/console/login",
    "console-queue": "/console/",
    "console-dashboard": "/console/dashboard",
    "console-datamap": "/console/datamap",
    "console-add-system": "/console/datamap/systems/new/sql",
    "console-consent": "/console/consent",
    "console-experiment": "/console/consent/experiments/banner_copy",
}
CENTER_SHOTS = {
    "center-start": "/privacy/",
    "center-start-es": "/privacy/?lang=es",
}
OTHER_SHOTS = ("center-code", "center-status", "center-preferences-gpc", "console-request")
ALL_SHOTS = (*CONSOLE_SHOTS, *CENTER_SHOTS, *OTHER_SHOTS)
ERASED = "customer0000021@shop.example"
wanted = pytest.mark.skipif(
    os.environ.get("RIGHTSFLOW_SCREENSHOTS") != "1",
    reason="set RIGHTSFLOW_SCREENSHOTS=1 to retake docs/screenshots",
)


def _shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


@pytest.fixture(scope="module")
def site(pages: PageServer) -> Site:
    return seed(pages)


@wanted
def test_take_the_page_servers_screenshots(site: Site, pages: PageServer, browser: Browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with new_context(browser, storage_state=console_session(browser, pages.base)) as console:
        page = console.new_page()
        for name, path in CONSOLE_SHOTS.items():
            page.goto(pages.base + path)
            _shoot(page, name)
    with new_context(browser) as visitor:
        page = visitor.new_page()
        for name, path in CENTER_SHOTS.items():
            page.goto(pages.base + path)
            _shoot(page, name)
        center_request(page, pages.base)
        _shoot(page, "center-code")
        confirm_code(page, pages)
        _shoot(page, "center-status")
    with new_context(browser, extra_http_headers={"Sec-GPC": "1"}) as gpc:
        page = gpc.new_page()
        page.goto(f"{pages.base}/privacy/preferences")
        _shoot(page, "center-preferences-gpc")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LivePlatform]:
    with live_platform(tmp_path) as platform:
        yield platform


@wanted
def test_take_a_completed_requests_screenshot(live: LivePlatform, browser: Browser) -> None:
    request_id = _completed_erasure(live)
    session = console_session(browser, live.base, OPERATOR_LOGIN, OPERATOR_PASSWORD)
    with new_context(browser, storage_state=session) as console:
        page = console.new_page()
        page.goto(f"{live.base}/console/requests/{request_id}")
        _shoot(page, "console-request")


def _completed_erasure(live: LivePlatform) -> str:
    with live.rest() as rest:
        answer = rest.post(
            "/api/v1/privacy-requests",
            json={"type": "erasure", "identities": {"email": ERASED}, "regime": "gdpr"},
        )
        body = answer.json()
        code = live.code_mailed_to(ERASED)
        rest.post(
            f"/api/v1/subject/requests/{body['id']}/code",
            json={"code": code},
            headers={"Subject-Token": body["subject_token"]},
        ).raise_for_status()
        rest.post(f"/api/v1/privacy-requests/{body['id']}/approve").raise_for_status()
        for _ in range(600):
            if rest.get(f"/api/v1/privacy-requests/{body['id']}").json()["status"] == "completed":
                return str(body["id"])
            time.sleep(0.2)
    raise AssertionError("the erasure did not complete")


def _png_width(path: Path) -> int:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    (width,) = struct.unpack(">I", head[16:20])
    return int(width)


@pytest.mark.parametrize("name", ALL_SHOTS)
def test_each_screenshot_is_committed_and_shown_in_the_docs(name: str) -> None:
    shot = SHOTS / f"{name}.png"
    assert shot.is_file(), f"missing {shot}: retake with RIGHTSFLOW_SCREENSHOTS=1"
    assert _png_width(shot) == 1280
    assert f"(screenshots/{name}.png)" in DOC.read_text()
