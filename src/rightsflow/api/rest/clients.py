"""/api/v1/clients: OAuth2 clients, managed by owners (scope access:admin).

A secret is returned once, when it is made (create, rotate); only its hash is kept. A creator
grants only scopes it holds, and `access:admin` only as an owner (see domain/clients.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, Security
from pydantic import BaseModel, Field

from rightsflow.api.auth import AuthenticatedRoute, PrincipalDep, bearer_scheme, requires
from rightsflow.api.client_tokens import ClientServiceDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.clients import NAME_MAX, OAuthClient
from rightsflow.services.clients import MAX_GRACE, NewClient

router = APIRouter(
    prefix="/api/v1/clients",
    tags=["access"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    # 422 on every route: a client_id longer than the path allows is refused before any route.
    responses=problem_responses(401, 403, 422),
)

ClientIdP = Annotated[str, Path(max_length=64, description="The client_id")]


class ClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    scopes: list[str] = Field(
        min_length=1,
        max_length=len(Scope),
        description="Scope names, e.g. requests:read",
        # Documents the names; the service still checks them, naming the unknown one.
        json_schema_extra={"items": {"type": "string", "enum": [s.value for s in Scope]}},
    )


class RotateIn(BaseModel):
    grace_s: int = Field(
        default=3600,
        ge=0,
        le=int(MAX_GRACE.total_seconds()),
        description="How long the client's current secrets keep working",
    )


class SecretOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime | None = Field(description="Set once a rotation gave it a grace period")


class ClientOut(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    secrets: list[SecretOut] = Field(description="Live secrets (never their values)")


class ClientList(BaseModel):
    items: list[ClientOut]


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="Shown this once; only its hash is kept")


def _out(client: OAuthClient) -> ClientOut:
    return ClientOut(
        client_id=client.id,
        name=client.name,
        scopes=sorted(s.value for s in client.scopes),
        created_at=client.created_at,
        created_by=client.created_by,
        revoked_at=client.revoked_at,
        secrets=[SecretOut(id=s.id, created_at=s.created_at, expires_at=s.expires_at)
                 for s in client.secrets],
    )  # fmt: skip


def _with_secret(made: NewClient) -> ClientWithSecret:
    return ClientWithSecret(**_out(made.client).model_dump(), client_secret=made.secret)


@router.post(
    "",
    status_code=201,
    summary="Create a client; its secret is in this answer only",
    responses=problem_responses(422),
)
@requires(Scope.ACCESS_ADMIN)
def create_client(
    body: ClientIn, principal: PrincipalDep, clients: ClientServiceDep, response: Response
) -> ClientWithSecret:
    made = clients.create(body.name, body.scopes, principal)
    response.headers["Cache-Control"] = "no-store"
    return _with_secret(made)


@router.get("", summary="Clients, revoked ones included (never secrets)")
@requires(Scope.ACCESS_ADMIN)
def list_clients(clients: ClientServiceDep) -> ClientList:
    return ClientList(items=[_out(c) for c in clients.list()])


@router.post(
    "/{client_id}/secrets",
    status_code=201,
    summary="Rotate: a new secret (in this answer only); the old ones expire after grace_s",
    responses=problem_responses(404, 409, 422),
)
@requires(Scope.ACCESS_ADMIN)
def rotate_secret(
    client_id: ClientIdP,
    principal: PrincipalDep,
    clients: ClientServiceDep,
    response: Response,
    body: Annotated[RotateIn | None, Body()] = None,
) -> ClientWithSecret:
    grace = timedelta(seconds=(body or RotateIn()).grace_s)
    made = clients.rotate_secret(client_id, grace, principal)
    response.headers["Cache-Control"] = "no-store"
    return _with_secret(made)


@router.delete(
    "/{client_id}",
    status_code=204,
    summary="Revoke a client: its secrets and tokens stop working",
    responses=problem_responses(404),
)
@requires(Scope.ACCESS_ADMIN)
def revoke_client(client_id: ClientIdP, principal: PrincipalDep, clients: ClientServiceDep) -> None:
    clients.revoke(client_id, principal)
