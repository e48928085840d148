"""The connector plugin boundary: the Protocol (from the domain) and the spec a plugin declares.

A plugin ships one `ConnectorSpec`: its kind (a validated string, never an enum, so a new
connector needs no schema change), a pydantic model for its configuration, a factory that turns
a validated configuration into a `Connector`, and the operations it supports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from rightsflow.domain.connector import (
    Connector,
    ConsentAck,
    ConsentNotice,
    ConsentReceiver,
    Row,
    RowChange,
    Scalar,
    SystemAnswer,
    SystemCall,
    SystemConnector,
    WaitPolicy,
    WriteOutcome,
)
from rightsflow.domain.errors import ConnectorFailure, InvalidInput
from rightsflow.domain.plan import PlanNode

__all__ = [
    "CAPABILITIES",
    "DAY_S",
    "KIND_PATTERN",
    "AnyConnector",
    "AnySpec",
    "Connector",
    "ConnectorSpec",
    "ConsentAck",
    "ConsentNotice",
    "ConsentReceiver",
    "Row",
    "RowChange",
    "Scalar",
    "SystemAnswer",
    "SystemCall",
    "SystemConnector",
    "WaitPolicy",
    "WriteOutcome",
    "check_page_size",
    "in_pages",
    "key_tuples",
    "matchable",
    "required_key_tuples",
    "validate_kind",
]

DAY_S = 86_400.0  # waiting periods in connector configs are in seconds

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

# What a connector can be asked to do; the planner and executor check these before calling it.
# "consent": the system is told about opt-outs and withdrawals (domain.connector.ConsentReceiver).
CAPABILITIES: frozenset[str] = frozenset({"retrieve", "mask", "delete", "consent"})

ConfigT = TypeVar("ConfigT", bound=BaseModel)
# A row connector (read and write rows) or a system connector (a service or a person asked
# per subject, who may answer later).
AnyConnector = Connector | SystemConnector


def validate_kind(kind: str) -> str:
    """Return `kind` if it is a valid connector kind, else raise `InvalidInput`."""
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise InvalidInput(
            f"invalid connector kind {str(kind)[:60]!r}: use lowercase letters, digits and "
            "underscores, starting with a letter (at most 41 characters)",
            field="connector",
        )
    return kind


@dataclass(frozen=True)
class ConnectorSpec(Generic[ConfigT]):
    """What a connector plugin declares. `factory` receives an instance of `config_model`."""

    kind: str
    config_model: type[ConfigT]
    factory: Callable[[ConfigT], AnyConnector]
    capabilities: frozenset[str]
    description: str

    def __post_init__(self) -> None:
        validate_kind(self.kind)
        if not (isinstance(self.config_model, type) and issubclass(self.config_model, BaseModel)):
            raise InvalidInput(f"connector {self.kind!r}: config_model must be a pydantic model")
        if not callable(self.factory):
            raise InvalidInput(f"connector {self.kind!r}: factory must be callable")
        unknown = sorted(set(self.capabilities) - CAPABILITIES)
        if unknown:
            raise InvalidInput(
                f"connector {self.kind!r}: unknown capabilities {unknown}; "
                f"known: {sorted(CAPABILITIES)}"
            )
        # Accept any iterable of names but always hold a frozenset.
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


AnySpec = ConnectorSpec[Any]


def key_tuples(
    node: PlanNode,
    keys: Iterable[Mapping[str, Scalar]],
    key_names: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Primary keys as tuples in `key_names` order (default: the node's key), each once, in
    the order given. A key missing a field is a non-retryable failure naming the field."""
    names = node.primary_key if key_names is None else key_names
    tuples: dict[tuple[Any, ...], None] = {}
    for key in keys:
        missing = [name for name in names if name not in key]
        if missing:
            raise ConnectorFailure(
                f"{node.address}: a key lacks primary key field(s) {', '.join(missing)}",
                retryable=False,
            )
        tuples[tuple(key[name] for name in names)] = None
    return list(tuples)


def required_key_tuples(
    node: PlanNode, keys: Iterable[Mapping[str, Scalar]], what: str
) -> list[tuple[Any, ...]]:
    """`key_tuples`, refused (not retryable) when the node has no primary key: `what` (e.g.
    "delete rows") cannot be done to rows that cannot be told apart."""
    if not node.primary_key:
        raise ConnectorFailure(
            f"{node.address}: cannot {what}: no primary key in the data map, so rows cannot be "
            "told apart one by one",
            retryable=False,
        )
    return key_tuples(node, keys)


def check_page_size(page_size: int) -> None:
    """`retrieve_pages` refuses a page size below 1 (a programming error, not a failure)."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")


def matchable(lookups: Mapping[str, Sequence[Scalar]]) -> dict[str, list[Scalar]]:
    """The lookup values a row can match, per field (NULL never matches, SQL-style)."""
    return {name: [v for v in values if v is not None] for name, values in lookups.items()}


def in_pages(rows: Iterable[Row], page_size: int) -> Iterator[list[Row]]:
    """`rows` in lists of `page_size` (the last one shorter), each yielded as soon as it is
    full; nothing for no rows."""
    page: list[Row] = []
    for row in rows:
        page.append(row)
        if len(page) == page_size:
            yield page
            page = []
    if page:
        yield page
