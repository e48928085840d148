"""What the browser tests need from the machine: Debian's Chromium and axe-core from npm.

Locally a missing piece skips the tests with a reason saying how to get it; in CI (CI=true)
it fails them, so a CI image without Chromium cannot pass by skipping everything.

Playwright's sync API runs its own event loop in the calling thread while a browser is open,
so the browser lives in a module-scoped fixture and these modules hold no async tests
(pytest-asyncio's session loop is idle whenever they run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
# Root in CI, a closed network: no sandbox, and no calls to Google hosts at start-up.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = frozenset({"serious", "critical"})


def require(path: Path, how_to_get_it: str) -> None:
    """Skip (locally) or fail (CI) when `path` is missing."""
    if path.exists():
        return
    reason = f"{path} is missing: {how_to_get_it}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_chromium() -> None:
    require(CHROMIUM, "install Debian's chromium (apt-get install chromium)")


def require_axe() -> None:
    require(AXE, "run `npm ci --prefix tests/e2e/browser` (or `make test`)")


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    """A fresh context at the screenshots' viewport (1280x900), in English and UTC."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", **options)
    context.set_default_timeout(15_000)
    return context


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    # Evaluated, not added as a <script>: the pages' CSP (default-src 'self') stays on and
    # would refuse an inline script tag.
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def summary(violation: dict[str, Any]) -> str:
    targets = [node["target"] for node in violation["nodes"]][:5]
    where = json.dumps(targets)
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {where}"


def assert_accessible(page: Page, name: str) -> None:
    """No serious or critical violation; the lesser ones are printed for the log."""
    violations = axe_violations(page)
    for minor in (v for v in violations if v["impact"] not in BLOCKING):
        print(f"axe on {name}: {summary(minor)}")  # noqa: T201 - reported, not failed
    blocking = [summary(v) for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {name}:\n" + "\n".join(blocking)


def first_tab_stop(page: Page) -> dict[str, str]:
    """Where the first Tab press lands on a freshly loaded page (call right after goto)."""
    page.keyboard.press("Tab")
    focused: dict[str, str] = page.evaluate(
        "() => ({text: document.activeElement.textContent.trim(),"
        " href: document.activeElement.getAttribute('href') || ''})"
    )
    return focused
