"""The schema: Query and Mutation roots with error masking and the limits (limits.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from rightsflow.api.graphql.errors import SafeErrors
from rightsflow.api.graphql.limits import limiters
from rightsflow.api.graphql.mutations import Mutation
from rightsflow.api.graphql.queries import Query


class QuietSchema(strawberry.Schema):
    """Strawberry logs every error with its traceback, and a traceback can quote SQL and the
    values it ran with; SafeErrors logs unexpected errors by type instead."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        del errors, execution_context  # nothing to add: SafeErrors logged what is safe


def build_schema(max_depth: int, max_cost: int) -> strawberry.Schema:
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        *limiters(max_depth, max_cost),
        SafeErrors,  # last: it sees (and masks) every other extension's errors too
    ]
    extra: Any = extensions
    return QuietSchema(query=Query, mutation=Mutation, extensions=extra)
