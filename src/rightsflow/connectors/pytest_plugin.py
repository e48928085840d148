"""The connector contract as a pytest plugin, auto-loaded wherever rightsflow is installed
(the `pytest11` entry point `rightsflow_connector`).

A connector plugin's own test suite asks for the `connector_contract` fixture and runs the
contract every built-in passes against its connector and its own storage:

    def test_my_connector_passes_the_contract(connector_contract, my_store):
        connector = connector_contract.from_spec(MY_SPEC, {"url": my_store.url})
        connector_contract.run(connector, my_store.seed, my_store.read_all, chunk_size=50)

The fixture only runs what a test asks for: loading this plugin adds one fixture and nothing
else, so it cannot change how any other suite runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from rightsflow.connectors.base import AnySpec, SystemConnector
from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.connectors.testing import (
    CHILD,
    CONTRACT_COLLECTIONS,
    PARENT,
    ContractViolation,
    FixtureCollection,
    ReadAll,
    Seed,
    run_contract,
)
from rightsflow.domain.connector import Connector

__all__ = ["CHILD", "CONTRACT_COLLECTIONS", "PARENT", "ConnectorContract", "ContractViolation"]


class ConnectorContract:
    """What the `connector_contract` fixture gives a test. Connectors it builds are closed
    when the test ends."""

    parent = PARENT
    child = CHILD
    # The two collections `seed` must accept and `read_all` must read back (create them empty):
    # the child has a composite primary key and a foreign key to the parent.
    collections: tuple[FixtureCollection, ...] = CONTRACT_COLLECTIONS

    def __init__(self) -> None:
        self._opened: list[Connector] = []

    def from_spec(self, spec: AnySpec, config: Mapping[str, Any]) -> Connector:
        """A connector built the way the platform builds one: the spec registered next to the
        built-ins (so its kind must be valid and free) and `config` validated by its model."""
        registry = ConnectorRegistry(builtin_specs())
        registry.register(spec)
        connector = registry.create(spec.kind, config)
        if isinstance(connector, SystemConnector):
            connector.close()
            raise TypeError(f"{spec.kind!r} is a system connector: the row contract does not apply")
        self._opened.append(connector)
        return connector

    def run(self, connector: Connector, seed: Seed, read_all: ReadAll, *, chunk_size: int) -> None:
        """Run the whole contract; raises `ContractViolation` (an AssertionError) naming the
        first broken promise. `chunk_size` is the connector's own batch size, so that every
        operation spans several batches."""
        run_contract(connector, seed, read_all, chunk_size=chunk_size)

    def close(self) -> None:
        for connector in reversed(self._opened):
            with contextlib.suppress(Exception):  # one failing close must not hide the others
                connector.close()
        self._opened.clear()


@pytest.fixture
def connector_contract() -> Iterator[ConnectorContract]:
    """Runs the rightsflow connector contract against a connector the test supplies."""
    contract = ConnectorContract()
    yield contract
    contract.close()
