"""How much one document may ask for: depth, tokens, aliases (strawberry's limiters) and cost.

The cost is counted on the document before anything runs: each field costs 1, times the number
of items the lists above it can hold. A connection's `nodes` and `edges` hold its `first` (the
value, or the variable's; else the default page), a plan's as many as the default page, another
list field `LIST_SIZES[name]`: `requests(first: 50) { nodes { id audit { action } } }` costs
1 + 1 + 50 x (1 + 1 + 20 x 1) = 1102. A document over the
limit is refused whole with one error coded QUERY_TOO_COSTLY that names the cost and the limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import GraphQLError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

DEFAULT_PAGE = 20
MAX_PAGE = 100
# List fields without a `first` argument: how many items they hold at most, roughly.
_PAGE_LISTS = frozenset({"nodes", "edges"})  # a connection's items, or a plan's nodes and edges
LIST_SIZES: Mapping[str, int] = {
    "results": 10,
    "collections": 10,
    "audit": 20,
    "systems": 10,
    "datasets": 3,
    "purposes": 50,
    "unreachable": 10,
    "entries": 20,
    "capabilities": 3,
    "nextActions": 5,
}
MAX_TOKENS = 2000
MAX_ALIASES = 15


def _page(field: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given if isinstance(given, int) else DEFAULT_PAGE
    return None


class _Coster:
    def __init__(self, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def fields(self, selections: SelectionSetNode, seen: frozenset[str]) -> Iterator[FieldNode]:
        for selection in selections.selections or ():
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self.fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # cycles are a validation error
                    yield from self.fields(fragment.selection_set, seen | {name})

    def cost(self, selections: SelectionSetNode | None, times: int, page: int | None) -> int:
        """`page`: the `first` of the connection these selections belong to, if any."""
        if selections is None:
            return 0
        total = 0
        for field in self.fields(selections, frozenset()):
            name = field.name.value
            if name.startswith("__"):
                continue  # introspection is bounded by the schema's size
            total += times
            first = _page(field, self.variables)
            if name in _PAGE_LISTS:
                size = page if page is not None else DEFAULT_PAGE
            elif first is not None:
                size = 1  # a connection: its nodes and edges hold `first` items
            else:
                size = LIST_SIZES.get(name, 1)
            total += self.cost(field.selection_set, times * max(size, 1), first)
        return total


def document_cost(document: DocumentNode, variables: Mapping[str, Any] | None) -> int:
    """The cost of the costliest operation in `document`."""
    coster = _Coster(document, variables or {})
    costs = [
        coster.cost(d.selection_set, 1, None)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    return max(costs, default=0)


class CostLimiter(SchemaExtension):
    """Refuses a document whose cost is over `max_cost` before it is validated or run."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            cost = document_cost(document, context.variables)
            if cost > self.max_cost:
                message = f"The query costs {cost}; the limit is {self.max_cost}."
                extensions = {"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": self.max_cost}
                # Set before validation runs: strawberry then skips it and answers this error.
                context.pre_execution_errors = [GraphQLError(message, extensions=extensions)]
        yield


def limiters(max_depth: int, max_cost: int) -> list[Callable[[], SchemaExtension]]:
    """Extension factories: strawberry makes each extension afresh for every request."""
    return [
        functools.partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        functools.partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        functools.partial(QueryDepthLimiter, max_depth=max_depth),
        functools.partial(CostLimiter, max_cost),
    ]
