"""Who may call /graphql, and which scope each field needs.

The transport takes the REST API's credentials (`api.auth.authenticate`: a bearer token or a
console session, whose CSRF token is checked on POST). A caller without valid credentials gets
HTTP 401 with one error coded UNAUTHENTICATED before the document is even parsed, so it learns
nothing about the schema (introspection included). Past that, every field and mutation names
the scope its REST route needs (`scoped(Scope.X)`); a caller without it gets that field null
and an error coded FORBIDDEN naming the scope (HTTP 200, as GraphQL answers a partial result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry
from fastapi import Request
from fastapi.responses import JSONResponse
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from rightsflow.domain.access import Principal, Scope

F = TypeVar("F", bound=Callable[..., Any])
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"


class GraphQLUnauthenticated(Exception):
    """No or bad credentials on /graphql: answered as a GraphQL error with HTTP 401."""


async def unauthenticated_response(request: Request, error: Exception) -> JSONResponse:  # noqa: ARG001 (handler signature)
    body = {
        "data": None,
        "errors": [
            {
                "message": "Authentication required: a bearer token or a console session.",
                "extensions": {"code": UNAUTHENTICATED},
            }
        ],
    }
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def principal_of(info: Info[Any, Any]) -> Principal:
    principal = info.context.principal
    if not isinstance(principal, Principal):
        raise TypeError("the GraphQL context has no principal")
    return principal


class HasScope(BasePermission):
    """The caller holds `scope` (the scope of the matching REST route)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.message = f"This needs the scope {scope.value}."
        self.error_extensions = {"code": FORBIDDEN, "required_scope": scope.value}

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:  # noqa: ARG002 (strawberry's signature)
        return principal_of(info).may(self.scope)


def guarded(scope: Scope, description: str | None = None) -> Callable[[F], F]:
    """`@strawberry.field` whose resolver needs `scope` (typed: strawberry's decorator is not)."""
    decorator = strawberry.field(extensions=scoped(scope), description=description)
    return cast("Callable[[F], F]", decorator)


def guarded_mutation(scope: Scope, description: str | None = None) -> Callable[[F], F]:
    """`@strawberry.mutation` that needs `scope`."""
    decorator = strawberry.mutation(extensions=scoped(scope), description=description)
    return cast("Callable[[F], F]", decorator)


def scoped(scope: Scope) -> list[FieldExtension]:
    """The field extensions that guard a field with `scope`: `extensions=scoped(Scope.X)`."""
    return [PermissionExtension(permissions=[HasScope(scope)], use_directives=False)]
