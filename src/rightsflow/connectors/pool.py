"""Open connectors per system, once each, shared by every request a process runs."""

from __future__ import annotations

import threading

from rightsflow.connectors.base import AnyConnector, Connector, SystemConnector
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.domain.datamap import DataMap
from rightsflow.domain.errors import InvalidInput, NotFound


class ConnectorPool:
    def __init__(self, registry: ConnectorRegistry, datamap: DataMap) -> None:
        self._registry = registry
        self._systems = {s.key: s for s in datamap.systems}
        self._open: dict[str, AnyConnector] = {}
        self._lock = threading.Lock()

    def _open_one(self, system_key: str) -> AnyConnector:
        with self._lock:
            connector = self._open.get(system_key)
            if connector is None:
                system = self._systems.get(system_key)
                if system is None:
                    raise NotFound(f"system {system_key!r} is not in the data map")
                connector = self._registry.create(system.connector, system.config)
                self._open[system_key] = connector
            return connector

    def for_system(self, system_key: str) -> Connector:
        connector = self._open_one(system_key)
        if isinstance(connector, SystemConnector):
            raise InvalidInput(f"system {system_key!r} is asked per subject, not per row")
        return connector

    def system_connector(self, system_key: str) -> SystemConnector:
        connector = self._open_one(system_key)
        if not isinstance(connector, SystemConnector):
            raise InvalidInput(f"system {system_key!r} is read per row, not asked per subject")
        return connector

    def answers_itself(self, system_key: str) -> bool:
        return isinstance(self._open_one(system_key), SystemConnector)

    def declares(self, system_key: str, capability: str) -> bool | None:
        """Whether the system's kind declares `capability`, from its spec, without opening the
        connector; None if the system or its kind is unknown."""
        system = self._systems.get(system_key)
        if system is None or system.connector not in self._registry:
            return None
        return self._registry.get(system.connector).supports(capability)

    def close(self) -> None:
        with self._lock:
            for connector in self._open.values():
                connector.close()
            self._open.clear()
