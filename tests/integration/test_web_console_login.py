"""The console's sign-in page over the real app, SQLite and password hashing: signing in,
one message for every refusal, `next` never leaving the console, signing out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.domain.access import Role
from tests.support.web_stack import PASSWORD, WebStack, csrf_of, login_of, web_stack

LOGIN = "/console/login"
REFUSED = "The login or password is wrong, or the account cannot sign in now."


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[WebStack]:
    with web_stack(tmp_path, customers=2) as built:
        yield built


def test_a_page_sends_a_visitor_to_sign_in_and_back(stack: WebStack) -> None:
    browser = stack.client()
    away = browser.get("/console/?status=failed")
    assert away.status_code == 303
    assert away.headers["location"] == "/console/login?next=/console/%3Fstatus%3Dfailed"
    page = browser.get(away.headers["location"])
    assert page.status_code == 200
    assert 'name="next" value="/console/?status=failed"' in page.text
    assert '<label for="password">Password</label>' in page.text

    form = {"login": login_of(Role.VIEWER), "password": PASSWORD, "next": "/console/?status=failed"}
    answer = browser.post(LOGIN, data=form)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/?status=failed"
    assert "httponly" in answer.headers["set-cookie"].lower()
    queue = browser.get("/console/?status=failed")
    assert queue.status_code == 200
    assert "<h1>Requests</h1>" in queue.text


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/console/",
        "//evil.example/console/",
        "/\\evil.example",
        "/api/v1/privacy-requests",
        "/consoled",
        "javascript:alert(1)",
        "",
    ],
)
def test_next_never_leaves_the_console(stack: WebStack, next_path: str) -> None:
    browser = stack.client()
    form = {"login": login_of(Role.VIEWER), "password": PASSWORD, "next": next_path}
    answer = browser.post(LOGIN, data=form)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/"


def test_every_refusal_reads_the_same_and_sets_no_cookie(stack: WebStack) -> None:
    browser = stack.client()
    wrong = browser.post(LOGIN, data={"login": login_of(Role.OWNER), "password": "nope" * 4})
    unknown = browser.post(LOGIN, data={"login": "nobody@ops.example", "password": PASSWORD})
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert REFUSED in answer.text
        assert "set-cookie" not in answer.headers
        assert 'aria-invalid="true"' in answer.text
    assert "nobody@ops.example" not in unknown.text  # the login is not echoed either
    empty = browser.post(LOGIN, data={"login": "", "password": ""})
    assert empty.status_code == 422
    assert "Enter your login and your password." in empty.text


def test_a_locked_account_reads_like_a_wrong_password(stack: WebStack) -> None:
    browser = stack.client()
    login = login_of(Role.REVIEWER)
    for _ in range(stack.people.rules.max_failed_logins):
        browser.post(LOGIN, data={"login": login, "password": "wrong password 1"})
    locked = browser.post(LOGIN, data={"login": login, "password": PASSWORD})
    assert locked.status_code == 401
    assert REFUSED in locked.text
    assert "lock" not in locked.text.lower()


def test_a_sign_in_another_site_started_is_refused(stack: WebStack) -> None:
    browser = stack.client()
    form = {"login": login_of(Role.OWNER), "password": PASSWORD}
    answer = browser.post(LOGIN, data=form, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_sign_out_needs_the_form_token_and_ends_the_session(stack: WebStack) -> None:
    browser = stack.signed_in(Role.OWNER)
    page = browser.get("/console/")
    assert page.status_code == 200
    refused = browser.post("/console/logout", data={})
    assert refused.status_code == 403
    assert browser.get("/console/").status_code == 200  # still signed in
    cookie_name = "rightsflow_session"
    token = browser.cookies.get(cookie_name)
    assert token
    out = browser.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    assert browser.get("/console/").status_code == 303
    # The old cookie no longer works: the session ended on the server, not only in the browser.
    replay = stack.client()
    replay.cookies.set(cookie_name, token)
    assert replay.get("/console/").status_code == 303
