"""Steps the browser tests share, driven the way a person would: by accessible names (roles,
labels, button text), so a page that loses a label or a name fails here first."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from rightsflow.domain.access import Role
from tests.support.web_stack import PASSWORD, login_of

SEARCH_KIND_EMAIL = re.compile("email", re.IGNORECASE)


def sign_in(page: Page, base: str, login: str, password: str) -> None:
    """Through the console's sign-in form; lands on the queue."""
    page.goto(f"{base}/console/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Requests")).to_be_visible()


def sign_in_as(page: Page, base: str, role: Role) -> None:
    """As web_stack's person with `role`."""
    sign_in(page, base, login_of(role), PASSWORD)


def search_queue(page: Page, email: str) -> None:
    """The queue's identity search, by email."""
    page.get_by_label("Search by", exact=True).select_option(label=_email_option(page))
    page.get_by_label("Subject's identity").fill(email)
    page.get_by_role("button", name="Search").click()


def _email_option(page: Page) -> str:
    labels = page.get_by_label("Search by", exact=True).locator("option").all_inner_texts()
    return next(label for label in labels if SEARCH_KIND_EMAIL.search(label))


def submit_request(rest: httpx.Client, kind: str, email: str, regime: str = "gdpr") -> str:
    """A request through the REST API (setup for page checks); its id."""
    answer = rest.post(
        "/api/v1/privacy-requests",
        json={"type": kind, "identities": {"email": email}, "regime": regime},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])
