"""/api/v1/session: a person signs in (the session cookie), asks who they are, signs out.

Signing in answers the session's CSRF token, which every unsafe call must then send as
`X-CSRF-Token`; `GET` answers it again (the console may have reloaded). A failed sign-in is
one 401 whatever the reason, so it never tells whether an account exists.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from rightsflow.api.problems import problem_responses
from rightsflow.api.sessions import PersonRoute, SessionsDep, SignedInDep
from rightsflow.domain.access import Role
from rightsflow.domain.people import MAX_LOGIN_LENGTH, MAX_PASSWORD_LENGTH, SessionRules
from rightsflow.services import users
from rightsflow.services.users import SignedIn

PATH = "/api/v1/session"

router = APIRouter(tags=["session"])
signed_in_router = APIRouter(tags=["session"], route_class=PersonRoute)


class LoginBody(BaseModel):
    login: str = Field(min_length=1, max_length=MAX_LOGIN_LENGTH)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class SessionOut(BaseModel):
    user_id: str
    role: Role
    scopes: list[str]
    csrf_token: str = Field(description="Send as X-CSRF-Token on POST, PUT, PATCH and DELETE")
    idle_expires_at: datetime = Field(description="When the session ends unless used before")
    expires_at: datetime = Field(description="When the session ends in any case")

    @classmethod
    def of(cls, signed_in: SignedIn, csrf_token: str, rules: SessionRules) -> SessionOut:
        user, session = signed_in.user, signed_in.session
        return cls(
            user_id=user.id,
            role=user.role,
            scopes=sorted(s.value for s in user.principal().scopes),
            csrf_token=csrf_token,
            idle_expires_at=session.idle_expires_at(rules),
            expires_at=session.expires_at,
        )


@router.post(
    PATH,
    summary="Sign in with login and password; sets the session cookie",
    responses=problem_responses(401, 403, 404, 422),
)
async def sign_in(
    body: LoginBody, request: Request, response: Response, sessions: SessionsDep
) -> SessionOut:
    sessions.check_origin(request)  # no signing a victim in to the attacker's account
    people = sessions.people
    opened = await asyncio.to_thread(users.login, people, body.login, body.password)
    max_age = int(people.rules.max_age.total_seconds())
    sessions.cookie.set(response, opened.token, max_age)
    signed_in = SignedIn(opened.user, opened.session)
    return SessionOut.of(signed_in, opened.csrf_token, people.rules)


@signed_in_router.get(
    PATH, summary="The signed-in person and their session", responses=problem_responses(401)
)
async def who_am_i(request: Request, sessions: SessionsDep, signed_in: SignedInDep) -> SessionOut:
    token = request.cookies[sessions.cookie.name]  # PersonRoute found the session by it
    return SessionOut.of(signed_in, users.csrf_token_for(token), sessions.people.rules)


@signed_in_router.delete(
    PATH,
    summary="Sign out (ends this session)",
    status_code=204,
    responses=problem_responses(401, 403),
)
async def sign_out(sessions: SessionsDep, signed_in: SignedInDep) -> Response:
    await asyncio.to_thread(users.logout, sessions.people, signed_in)
    response = Response(status_code=204)
    sessions.cookie.clear(response)
    return response


router.include_router(signed_in_router)
