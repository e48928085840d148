"""Who is looking at a console page, and what they may do there.

Pages use the console session cookie of `/api/v1/session` (api/sessions.py). A page answers
a visitor without a live session by sending them to the sign-in page (`LoginRequired`), and a
person without the page's scope with a 403 page. A form post must carry the session's CSRF
token as the `csrf_token` field (forms cannot send the API's header) and, when the browser
names one, our own Origin.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from rightsflow.api.deps import api_deps
from rightsflow.api.problems import Forbidden
from rightsflow.api.sessions import ConsoleSessions
from rightsflow.domain.access import Principal, Scope
from rightsflow.domain.errors import NotFound
from rightsflow.services import users
from rightsflow.services.users import SignedIn

CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """No live session: the page sends the visitor to sign in, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


@dataclass(frozen=True)
class Operator:
    signed_in: SignedIn
    csrf_token: str  # for the page's forms

    @property
    def principal(self) -> Principal:
        return self.signed_in.user.principal()

    @property
    def actor(self) -> str:
        return self.principal.actor

    def can(self, scope: Scope) -> bool:
        return self.principal.may(scope)

    def require(self, scope: Scope) -> None:
        if not self.can(scope):
            raise Forbidden(f"your role does not include {scope.value}", scope.value)


def console_sessions(request: Request) -> ConsoleSessions:
    sessions = api_deps(request).sessions
    if not isinstance(sessions, ConsoleSessions):
        raise NotFound("the console is not enabled on this server")
    return sessions


def login_path(request: Request) -> str:
    """The sign-in page, then back here (only a path of ours: never an open redirect)."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{request.scope.get('root_path', '')}/login?next={quote(back, safe='/')}"


async def current_operator(request: Request) -> Operator:
    sessions = console_sessions(request)
    token = request.cookies.get(sessions.cookie.name)
    if not token:
        raise LoginRequired(login_path(request))
    signed_in = await asyncio.to_thread(users.authenticate, sessions.people, token)
    if signed_in is None:
        raise LoginRequired(login_path(request))
    return Operator(signed_in, users.csrf_token_for(token))


async def posting_operator(request: Request) -> Operator:
    """A form post: a live session, our origin, and the session's CSRF token in the form."""
    operator = await current_operator(request)
    console_sessions(request).check_origin(request)
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not users.csrf_ok(operator.signed_in.session, given if isinstance(given, str) else None):
        raise Forbidden("the form has expired; reload the page and try again")
    return operator


OperatorDep = Annotated[Operator, Depends(current_operator)]
PostingOperatorDep = Annotated[Operator, Depends(posting_operator)]
