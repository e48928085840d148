"""The schema: Query and Mutation roots with the limits (limits.py); errors are masked on the
way out (errors.py)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from rightsflow.api.graphql.limits import limiters
from rightsflow.api.graphql.mutations import Mutation
from rightsflow.api.graphql.queries import Query


class QuietSchema(strawberry.Schema):
    """Strawberry logs every error with its traceback, and a traceback can quote SQL and the
    values it ran with; `errors.safe_errors` logs unexpected errors by type instead."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        del errors, execution_context  # nothing to add: safe_errors logs what is safe


def build_schema(max_depth: int, max_cost: int) -> strawberry.Schema:
    extensions: Any = limiters(max_depth, max_cost)
    return QuietSchema(query=Query, mutation=Mutation, extensions=extensions)
