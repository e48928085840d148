"""/api/v1/users: people and their roles (owners: `access:admin`), and a person's own password.

Logins are staff emails; they appear here, to owners, and nowhere else (the audit trail names
people by id). Passwords are accepted, never returned.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Security
from pydantic import BaseModel, Field

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.problems import problem_responses
from rightsflow.api.sessions import PersonRoute, SessionsDep, SignedInDep
from rightsflow.domain.access import Role, Scope
from rightsflow.domain.people import (
    LOGIN_PATTERN,
    MAX_LOGIN_LENGTH,
    MAX_PASSWORD_LENGTH,
    MIN_LOGIN_LENGTH,
    MIN_PASSWORD_LENGTH,
)
from rightsflow.domain.people import User as UserRecord
from rightsflow.services import users

PREFIX = "/api/v1/users"
UserId = Annotated[str, Path(min_length=1, max_length=36)]
NewPassword = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=f"At least {MIN_PASSWORD_LENGTH} characters",
    ),
]

admin = APIRouter(
    prefix=PREFIX,
    tags=["users"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 404, 422),
)
own = APIRouter(prefix=PREFIX, tags=["users"], route_class=PersonRoute)


class NewUser(BaseModel):
    login: str = Field(
        min_length=MIN_LOGIN_LENGTH,
        max_length=MAX_LOGIN_LENGTH,
        pattern=f"^{LOGIN_PATTERN.pattern}$",  # the domain's rule (normalize_login)
        description="A staff email",
    )
    role: Role
    password: NewPassword


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = Field(default=None, description="true ends the user's sessions")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: NewPassword


class PasswordChanged(BaseModel):
    other_sessions_ended: int


class UserOut(BaseModel):
    id: str
    login: str
    role: Role
    created_at: datetime
    created_by: str
    password_changed_at: datetime
    locked_until: datetime | None
    disabled_at: datetime | None

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls(
            id=user.id,
            login=user.login,
            role=user.role,
            created_at=user.created_at,
            created_by=user.created_by,
            password_changed_at=user.password_changed_at,
            locked_until=user.locked_until,
            disabled_at=user.disabled_at,
        )


class UserList(BaseModel):
    items: list[UserOut]


@admin.post(
    "", summary="Add a person with a role", status_code=201, responses=problem_responses(409)
)
@requires(Scope.ACCESS_ADMIN)
async def create_user(body: NewUser, sessions: SessionsDep, actor: ActorDep) -> UserOut:
    people = sessions.people
    created = await asyncio.to_thread(
        users.create, people, body.login, body.role, body.password, actor
    )
    return UserOut.of(created)


@admin.get("", summary="Everyone who may sign in to the console (and who was disabled)")
@requires(Scope.ACCESS_ADMIN)
async def list_users(sessions: SessionsDep) -> UserList:
    found = await asyncio.to_thread(users.list_users, sessions.people)
    return UserList(items=[UserOut.of(user) for user in found])


@admin.get("/{user_id}", summary="One person")
@requires(Scope.ACCESS_ADMIN)
async def get_user(user_id: UserId, sessions: SessionsDep) -> UserOut:
    return UserOut.of(await asyncio.to_thread(users.get_user, sessions.people, user_id))


@admin.patch(
    "/{user_id}",
    summary="Change a person's role, or disable (ending their sessions) or enable them",
    responses=problem_responses(409),
)
@requires(Scope.ACCESS_ADMIN)
async def change_user(
    user_id: UserId, body: UserChange, sessions: SessionsDep, actor: ActorDep
) -> UserOut:
    changed = await asyncio.to_thread(
        lambda: users.update(
            sessions.people, user_id, actor, role=body.role, disabled=body.disabled
        )
    )
    return UserOut.of(changed)


@own.post(
    "/me/password",
    summary="Change your own password (ends your other sessions)",
    responses=problem_responses(401, 403, 422),
)
async def change_own_password(
    body: PasswordChange, sessions: SessionsDep, signed_in: SignedInDep
) -> PasswordChanged:
    ended = await asyncio.to_thread(
        users.change_password,
        sessions.people,
        signed_in,
        body.current_password,
        body.new_password,
    )
    return PasswordChanged(other_sessions_ended=ended)


router = APIRouter()
router.include_router(own)  # first: /me/password is not a user id
router.include_router(admin)
