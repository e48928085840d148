"""The console's sign-in page and sign-out.

Signing in opens the same session as `POST /api/v1/session` (services/users.login): the
session cookie, then a 303 to where the person was going, when that is a console path (never
another site: no open redirect). A refused sign-in shows one message whatever the reason
(unknown login, wrong password, locked or disabled account), so the page never tells whether
an account exists.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from rightsflow.api.web.console_auth import PostingOperatorDep, console_sessions
from rightsflow.api.web.pages import render
from rightsflow.domain.people import MAX_LOGIN_LENGTH, MAX_PASSWORD_LENGTH, LoginRefused
from rightsflow.services import users

router = APIRouter()

HOME = "/console/"
REFUSED = "The login or password is wrong, or the account cannot sign in now."
_MAX_NEXT = 512


def safe_next(raw: str | None) -> str:
    """`raw` when it is a console path of this site, else the console's start page."""
    if not raw or len(raw) > _MAX_NEXT or "\\" in raw or any(ord(c) < 32 for c in raw):
        return HOME
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or raw.startswith("//"):
        return HOME
    if parts.path != "/console" and not parts.path.startswith("/console/"):
        return HOME
    return raw


def _form(request: Request, next_path: str, error: str | None, status: int) -> Response:
    return render(
        request, "console/login.html", {"next": next_path, "error": error}, status_code=status
    )


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=_MAX_NEXT)] = None
) -> Response:
    return _form(request, safe_next(next), None, 200)


@router.post("/login")
async def sign_in(
    request: Request,
    login: Annotated[str, Form(max_length=MAX_LOGIN_LENGTH)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    next: Annotated[str, Form(max_length=_MAX_NEXT)] = "",
) -> Response:
    sessions = console_sessions(request)
    sessions.check_origin(request)  # no signing a victim in to the attacker's account
    target = safe_next(next)
    if not login.strip() or not password:
        return _form(request, target, "Enter your login and your password.", 422)
    people = sessions.people
    try:
        opened = await asyncio.to_thread(users.login, people, login, password)
    except LoginRefused:
        return _form(request, target, REFUSED, 401)
    response = RedirectResponse(target, status_code=303)
    sessions.cookie.set(response, opened.token, int(people.rules.max_age.total_seconds()))
    return response


@router.post("/logout")
async def sign_out(request: Request, operator: PostingOperatorDep) -> Response:
    sessions = console_sessions(request)
    await asyncio.to_thread(users.logout, sessions.people, operator.signed_in)
    response = RedirectResponse("/console/login", status_code=303)
    sessions.cookie.clear(response)
    return response
