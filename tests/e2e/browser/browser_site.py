"""The pages the accessibility checks and the screenshots visit, over the page server with
deterministic data: the shop sample's synthetic customers (no real person), a few requests of
each kind, a consent notice in two versions with a running experiment and fixed outcomes.

Console pages are opened signed in as the owner (who sees every action). The session is opened
through POST /api/v1/session, not the sign-in form: the form is the journeys' subject, and these
checks are about each page as it renders."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Browser, Page, StorageState, expect

from rightsflow.domain.access import Role
from rightsflow.domain.consent import SubjectKind, SubjectRef
from rightsflow.services import experiments
from tests.e2e.browser.browser_flows import submit_request
from tests.e2e.browser.browser_servers import PageServer
from tests.support.experiment_data import publish_notices, running_experiment
from tests.support.outbox_codes import code_in_outbox
from tests.support.web_stack import PASSWORD, login_of

EXPERIMENT = "banner_copy"
CENTER_SUBJECT = "customer0000002@shop.example"
SEEDED = (
    ("erasure", "customer0000011@shop.example", "gdpr"),
    ("access", "customer0000012@shop.example", "ccpa"),
    ("access", "customer0000013@shop.example", "gdpr"),
    ("opt_out", "customer0000014@shop.example", "ccpa"),
)
# Outcomes per variant (granted, declined): fixed, so the results chart is the same every run.
OUTCOMES = {"control": (18, 22), "short": (27, 13)}


CONSOLE_PAGES = (
    "console sign-in",
    "console queue",
    "console request",
    "console dashboard",
    "console data map",
    "console connector kinds",
    "console add a system",
    "console consent",
    "console experiment results",
)
CENTER_PAGES = ("center start", "center start (es)", "center preferences")


@dataclass(frozen=True)
class Site:
    request_id: str  # a seeded request, for the console's request page
    console: dict[str, str]  # page name -> path, signed-in pages and the sign-in page
    center: dict[str, str]  # page name -> path, public pages that need no request


def seed(server: PageServer) -> Site:
    with server.rest() as rest:
        ids = [submit_request(rest, kind, email, regime) for kind, email, regime in SEEDED]
    platform = server.stack.runtime.platform
    publish_notices(platform)
    running_experiment(platform, EXPERIMENT)
    _outcomes(server)
    return Site(
        request_id=ids[0],
        console={
            "console sign-in": "/console/login",
            "console queue": "/console/",
            "console request": f"/console/requests/{ids[0]}",
            "console dashboard": "/console/dashboard",
            "console data map": "/console/datamap",
            "console connector kinds": "/console/datamap/systems/new",
            "console add a system": "/console/datamap/systems/new/sql",
            "console consent": "/console/consent",
            "console experiment results": f"/console/consent/experiments/{EXPERIMENT}",
        },
        center={
            "center start": "/privacy/",
            "center start (es)": "/privacy/?lang=es",
            "center preferences": "/privacy/preferences",
        },
    )


def _outcomes(server: PageServer) -> None:
    """Visitors who saw the banner and chose, until each variant has its fixed counts."""
    platform = server.stack.runtime.platform
    left = {name: list(counts) for name, counts in OUTCOMES.items()}
    device = 0
    while any(sum(counts) for counts in left.values()):
        device += 1
        subject = SubjectRef(SubjectKind.DEVICE_ID, f"screenshot-device-{device}")
        variant = experiments.exposure(platform, EXPERIMENT, subject)
        counts = left[variant]
        if counts[0]:
            counts[0] -= 1
            experiments.outcome(platform, EXPERIMENT, subject, granted=True)
        elif counts[1]:
            counts[1] -= 1
            experiments.outcome(platform, EXPERIMENT, subject, granted=False)


def console_session(
    browser: Browser, base: str, login: str = login_of(Role.OWNER), password: str = PASSWORD
) -> StorageState:
    """A console session's cookie (by default the owner's), opened once: contexts start from
    it, as sign-ins are rate limited."""
    with browser.new_context() as context:
        answer = context.request.post(
            f"{base}/api/v1/session", data={"login": login, "password": password}
        )
        assert answer.ok, answer.text()
        return context.storage_state()


def center_request(page: Page, base: str, email: str = CENTER_SUBJECT) -> str:
    """An erasure asked in the privacy center by this page's browser; the status page's path
    (now asking for the code)."""
    page.goto(f"{base}/privacy/?lang=en")  # the labels below are English
    page.get_by_label("Delete your data").check()
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_label("Code from the email")).to_be_visible()
    return page.url.removeprefix(base)


def confirm_code(page: Page, server: PageServer, email: str = CENTER_SUBJECT) -> None:
    page.get_by_label("Code from the email").fill(
        code_in_outbox(server.stack.settings.outbox_dir, email)
    )
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_label("Code from the email")).to_have_count(0)
