"""The in-memory connector passes the connector contract, and its test helpers work."""

from __future__ import annotations

import pytest

from rightsflow.connectors.base import RowChange
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.connectors.testing import (
    CHILD,
    PARENT,
    ContractViolation,
    InMemoryConnector,
    contract_node,
    in_memory_spec,
    run_contract,
)
from rightsflow.domain.errors import ConnectorFailure


@pytest.mark.parametrize("chunk_size", [1, 4, 50])
def test_in_memory_connector_passes_the_contract(chunk_size: int) -> None:
    connector = InMemoryConnector()
    run_contract(connector, connector.seed, connector.rows, chunk_size=chunk_size)


def test_the_contract_catches_a_mask_without_the_guard() -> None:
    class Unguarded(InMemoryConnector):
        def mask(self, node, changes):  # type: ignore[no-untyped-def]
            super().mask(node, changes)
            return len(changes)

    connector = Unguarded()
    with pytest.raises(ContractViolation, match="mask"):
        run_contract(connector, connector.seed, connector.rows, chunk_size=3)


def test_the_contract_catches_a_connector_returning_every_field() -> None:
    class Leaky(InMemoryConnector):
        def retrieve(self, node, lookups):  # type: ignore[no-untyped-def]
            wide = contract_node(node.address, ("id", "email", "name", "phone"))
            return super().retrieve(wide, lookups) if node.address == PARENT else []

    connector = Leaky()
    with pytest.raises(ContractViolation):
        run_contract(connector, connector.seed, connector.rows, chunk_size=3)


class _Paging(InMemoryConnector):
    """Breaks retrieve_pages in one way, for the contract to catch."""

    flaw = ""

    def retrieve_pages(self, node, lookups, page_size):  # type: ignore[no-untyped-def]
        rows = self.retrieve(node, lookups)
        if self.flaw == "list":
            return [rows] if rows else []
        if self.flaw == "oversized":
            return iter([rows] if rows else [])
        if self.flaw == "duplicate":
            rows = rows + rows[:1]
        if self.flaw == "lossy":
            rows = rows[1:]
        return iter([rows[i : i + page_size] for i in range(0, len(rows), page_size)])


@pytest.mark.parametrize(
    ("flaw", "message"),
    [
        ("list", "lazy iterator"),
        ("oversized", "page sizes"),
        ("duplicate", "a row came twice"),
        ("lossy", "not the rows retrieve returns"),
    ],
)
def test_the_contract_catches_broken_pages(flaw: str, message: str) -> None:
    connector = _Paging()
    connector.flaw = flaw
    with pytest.raises(ContractViolation, match=message):
        run_contract(connector, connector.seed, connector.rows, chunk_size=3)


def test_pages_are_read_when_asked_and_count_as_a_call() -> None:
    connector = InMemoryConnector({PARENT: [{"id": i, "email": f"u{i}@x"} for i in range(5)]})
    node = contract_node(PARENT, ("id",))
    pages = connector.retrieve_pages(node, {"id": [0, 1, 2, 3, 4]}, 2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert connector.calls == [("retrieve_pages", PARENT)]
    connector.fail_next(ConnectorFailure("down", retryable=True), method="retrieve_pages")
    with pytest.raises(ConnectorFailure, match="down"):
        connector.retrieve_pages(node, {"id": [1]}, 2)
    with pytest.raises(ValueError, match="page_size"):
        connector.retrieve_pages(node, {"id": [1]}, 0)


def test_nested_lookups_walk_dicts_and_lists() -> None:
    connector = InMemoryConnector(
        {
            PARENT: [
                {"id": 1, "profile": {"emails": [{"address": "a@example.com"}]}},
                {"id": 2, "profile": {"emails": [{"address": "b@example.com"}]}},
                {"id": 3, "profile": None},
            ]
        }
    )
    node = contract_node(PARENT, ("id",))
    rows = connector.retrieve(node, {"profile.emails.address": ["b@example.com"]})
    assert rows == [{"id": 2}]


def test_injected_failures_and_recorded_calls() -> None:
    connector = InMemoryConnector({CHILD: [{"customer_id": 1, "line": 1, "note": "x"}]})
    node = contract_node(CHILD, ("note",), action="mask")
    connector.fail_next(ConnectorFailure("boom", retryable=True), method="mask")
    with pytest.raises(ConnectorFailure, match="boom"):
        connector.mask(node, [RowChange({"customer_id": 1, "line": 1}, {"note": None})])
    assert connector.mask(node, [RowChange({"customer_id": 1, "line": 1}, {"note": None})]) == 1
    assert connector.calls == [("mask", CHILD), ("mask", CHILD)]
    connector.close()
    assert connector.closed


def test_a_key_without_its_primary_key_fields_is_refused() -> None:
    connector = InMemoryConnector()
    node = contract_node(CHILD, ("note",), action="delete")
    with pytest.raises(ConnectorFailure, match="line") as caught:
        connector.delete(node, [{"customer_id": 1}])
    assert caught.value.retryable is False


def test_in_memory_spec_registers_a_shared_instance() -> None:
    shared = InMemoryConnector()
    registry = ConnectorRegistry([in_memory_spec(shared)])
    assert registry.create("memory", {}) is shared
    assert registry.validate_config("memory", {"extra": 1}) == [
        "extra: extra inputs are not permitted"
    ]
