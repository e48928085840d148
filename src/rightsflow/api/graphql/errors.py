"""Error masking: only errors we raise on purpose reach the caller, with a stable code.

Applied once, to every answer on its way out (`SafeRouter.process_result` in __init__): that
sees errors from resolvers and from extensions alike, where strawberry's MaskErrors extension
would miss an error raised inside another extension.

A domain error (NotFound, InvalidInput, Conflict) carries a message written to be safe (no
personal data), so it passes with `extensions.code` (NOT_FOUND, BAD_USER_INPUT with `field`,
CONFLICT). GraphQL's own errors (syntax, validation, limits, permissions) pass as they are.
Anything else (a database error, a bug) becomes "Unexpected error." and is logged by type only.
"""

from __future__ import annotations

from typing import Any

import structlog
from graphql import GraphQLError

from rightsflow.domain.errors import (
    Conflict,
    ConnectorFailure,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Refused,
    RightsflowError,
)

UNEXPECTED = "Unexpected error."
_CONNECTOR = "A connected system failed; the request can be retried later."
log = structlog.get_logger("rightsflow.graphql")


def _code(error: RightsflowError) -> str:
    if isinstance(error, InvalidInput):
        return "BAD_USER_INPUT"
    if isinstance(error, NotFound):
        return "NOT_FOUND"
    if isinstance(error, Conflict):
        return "CONFLICT"
    if isinstance(error, Refused):
        return "UNAUTHENTICATED"
    return "INTERNAL"


def _extensions(error: RightsflowError) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": _code(error), "type": error.code}
    if isinstance(error, InvalidInput) and error.field is not None:
        extensions["field"] = error.field
    if isinstance(error, InvalidTransition) and error.current is not None:
        extensions["current"] = error.current
    return extensions


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False  # parsing, validation, limits, permissions: ours or GraphQL's
    return not isinstance(original, RightsflowError) or isinstance(original, ConnectorFailure)


def safe_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Domain errors re-coded, GraphQL's own kept, anything else masked."""
    processed: list[GraphQLError] = []
    for error in errors:
        original = error.original_error
        if should_mask(error):
            # The type only: a message may quote SQL or the data it failed on.
            log.error("graphql.unexpected_error", error_type=type(original).__name__)
            message = _CONNECTOR if isinstance(original, ConnectorFailure) else UNEXPECTED
            processed.append(_replace(error, message, {"code": "INTERNAL"}))
        elif isinstance(original, RightsflowError):
            processed.append(_replace(error, str(original), _extensions(original)))
        else:
            processed.append(error)
    return processed


def _replace(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )
