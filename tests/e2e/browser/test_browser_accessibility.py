"""axe-core (WCAG 2.0/2.1 A and AA rules) on every page of the console and the privacy center,
in Chromium: no serious or critical violation (the lesser ones are printed). And the keyboard:
the first Tab stop is the skip link, which moves focus to the main content."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, StorageState, expect

from tests.e2e.browser.browser_env import (
    assert_accessible,
    first_tab_stop,
    new_context,
    require_axe,
)
from tests.e2e.browser.browser_servers import PageServer
from tests.e2e.browser.browser_site import (
    CENTER_PAGES,
    CONSOLE_PAGES,
    Site,
    center_request,
    confirm_code,
    console_session,
    seed,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(pages: PageServer) -> Site:
    require_axe()
    return seed(pages)


@pytest.fixture(scope="module")
def owner(site: Site, pages: PageServer, browser: Browser) -> StorageState:
    return console_session(browser, pages.base)


@pytest.fixture
def console(browser: Browser, owner: StorageState) -> Iterator[Page]:
    """A page of a browser where the owner is signed in to the console."""
    with new_context(browser, storage_state=owner) as context:
        yield context.new_page()


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_console_page_has_no_serious_violation(
    site: Site, pages: PageServer, console: Page, name: str
) -> None:
    answer = console.goto(pages.base + site.console[name])
    assert answer is not None
    assert answer.status == 200, name
    assert_accessible(console, name)


@pytest.mark.parametrize("name", CENTER_PAGES)
def test_center_page_has_no_serious_violation(
    site: Site, pages: PageServer, page: Page, name: str
) -> None:
    answer = page.goto(pages.base + site.center[name])
    assert answer is not None
    assert answer.status == 200, name
    assert_accessible(page, name)


def test_center_request_pages_have_no_serious_violation(
    site: Site, pages: PageServer, page: Page
) -> None:
    page.goto(f"{pages.base}/privacy/")
    page.get_by_role("button", name="Send request").click()  # nothing chosen or typed
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "center start with errors")
    center_request(page, pages.base)
    assert_accessible(page, "center code entry")
    page.get_by_label("Code from the email").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "center code entry with an error")
    confirm_code(page, pages)
    assert_accessible(page, "center status")


@pytest.mark.parametrize("path", ["/privacy/", "/console/login", "/console/"])
def test_the_first_tab_stop_is_the_skip_link_to_the_main_content(
    site: Site, pages: PageServer, console: Page, path: str
) -> None:
    console.goto(pages.base + path)
    assert first_tab_stop(console) == {"text": "Skip to main content", "href": "#main"}
    console.keyboard.press("Enter")
    expect(console.locator("main")).to_be_focused()
