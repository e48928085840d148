"""The GraphQL API at /graphql (Strawberry), over the same services, credentials and scopes as
REST (see docs/graphql.md).

POST answers queries and mutations; GET answers queries only (strawberry refuses a mutation
over GET). Not in the OpenAPI document. GraphiQL is served only when `graphql_ide` is set.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from rightsflow.api.deps import ApiDeps
from rightsflow.api.graphql.auth import GraphQLUnauthenticated, unauthenticated_response
from rightsflow.api.graphql.context import GraphQLContext, context_for
from rightsflow.api.graphql.errors import safe_errors
from rightsflow.api.graphql.schema import build_schema
from rightsflow.config import Settings

PATH = "/graphql"


async def _context(context: GraphQLContext = Depends(context_for)) -> GraphQLContext:  # noqa: B008 (FastAPI's idiom)
    return context


class SafeRouter(GraphQLRouter[GraphQLContext, None]):
    """Masks errors (errors.safe_errors) on the way out: the one place every answer passes,
    whether its errors came from a resolver or from an extension (a limiter, say)."""

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = safe_errors(list(result.errors))
        return await super().process_result(request, result)


def install(app: FastAPI, settings: Settings, deps: ApiDeps) -> None:  # noqa: ARG001 (one signature for every area)
    """Mount /graphql on `app`."""
    schema = build_schema(settings.graphql_max_depth, settings.graphql_max_cost)
    router = SafeRouter(
        schema,
        path=PATH,
        context_getter=_context,
        graphql_ide="graphiql" if settings.graphql_ide else None,
        allow_queries_via_get=True,
        subscription_protocols=(),  # no subscriptions: no websocket route to secure
        include_in_schema=False,
    )
    app.include_router(router)
    app.add_exception_handler(GraphQLUnauthenticated, unauthenticated_response)
