"""What the platform asks of a connector, in domain types only.

The plugin boundary (`rightsflow.connectors.base`) re-exports this Protocol and adds the spec
and registry. Services depend on this module, never on a concrete connector.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rightsflow.domain.plan import PlanNode

Row = dict[str, Any]
# A key value that can be looked up (collections may be keyed on text, numbers, uuids ...).
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class RowChange:
    """Set `values` on the row whose primary key is `key`, unless it already holds them.

    The guard makes an erase idempotent: applying the same change twice touches the row once.
    """

    key: Mapping[str, Scalar]
    values: Mapping[str, Any]


class Connector(Protocol):
    """One configured system. Every method works on many rows at once; none opens a
    connection per row. Raise `ConnectorFailure` for failures of the target system."""

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        """Rows where any lookup field (top-level or dotted) holds one of its values.

        Only `node.fetch_fields` are returned. An empty `lookups` returns no rows."""
        ...

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        """The rows `retrieve` returns, as pages of at most `page_size` rows, each row once,
        read lazily (keyset pagination, never OFFSET), so a subject with millions of rows in
        one collection is streamed in bounded memory."""
        ...

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        """Rows with these primary keys (those that still exist), `node.fetch_fields` only."""
        ...

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        """Apply the changes in one transaction; return how many rows actually changed."""
        ...

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        """Delete these rows in one transaction; return how many existed."""
        ...

    def check(self) -> None:
        """Raise `ConnectorFailure` if the system cannot be reached."""
        ...

    def close(self) -> None: ...
