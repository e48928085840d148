"""What the data map page shows: each system's connector, capabilities and health, and the
graph of systems, datasets, collections and the references between collections.

Health is each system's connector `check()` (connect, read nothing) through the platform's own
connectors, all at once, each given `HEALTH_TIMEOUT_S`: a system that hangs shows "down" and
costs the page no more than that. A reason shown is the connector's own safe message, with any
config value scrubbed out of it besides (a DSN or a password must never reach a page).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from rightsflow.api.web.graph_svg import GraphEdge, GraphNode, draw
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.domain.datamap import Collection, DataMap, System
from rightsflow.domain.errors import RightsflowError
from rightsflow.services.ports import Connectors

HEALTH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class SystemRow:
    key: str
    kind: str
    capabilities: tuple[str, ...]
    datasets: tuple[str, ...]
    health: str  # ok or down
    reason: str = ""  # why it is down (safe to show)


@dataclass(frozen=True)
class ReferenceRow:
    source: str  # collection address values come from
    target: str  # collection address values go to
    fields: str  # "shop:orders.customer_id → shop:customers.id"


async def system_rows(
    datamap: DataMap, connectors: Connectors, registry: ConnectorRegistry
) -> list[SystemRow]:
    checks = await asyncio.gather(*(_health(connectors, s) for s in datamap.systems))
    return [
        SystemRow(s.key, s.connector, _capabilities(registry, s.connector), s.datasets, *check)
        for s, check in zip(datamap.systems, checks, strict=True)
    ]


def _capabilities(registry: ConnectorRegistry, kind: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(registry.get(kind).capabilities))
    except RightsflowError:  # a plugin that no longer loads: the health column says why
        return ()


async def _health(connectors: Connectors, system: System) -> tuple[str, str]:
    try:
        await asyncio.wait_for(asyncio.to_thread(_check, connectors, system.key), HEALTH_TIMEOUT_S)
    except TimeoutError:
        return "down", f"no answer within {HEALTH_TIMEOUT_S:g} s"
    except RightsflowError as exc:  # ConnectorFailure, InvalidInput: written to be shown
        return "down", scrub(str(exc), system.config)
    except Exception as exc:  # a plugin's bug: its message may hold anything
        return "down", f"unexpected error in the connector ({type(exc).__name__})"
    return "ok", ""


def _check(connectors: Connectors, key: str) -> None:
    # The platform's cached connector: checking it must not close it (requests share it).
    if connectors.answers_itself(key):
        connectors.system_connector(key).check()
    else:
        connectors.for_system(key).check()


def scrub(reason: str, config: Mapping[str, Any]) -> str:
    """`reason` without any config value in it (URLs, passwords), cut to one short line."""
    for value in sorted(_strings(config), key=len, reverse=True):
        if len(value) >= 4:
            reason = reason.replace(value, "…")
    return " ".join(reason.split())[:200]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)
    elif isinstance(value, str):
        yield value
        try:
            password = urlsplit(value).password if "://" in value else None
        except ValueError:
            password = None
        if password:
            yield password


def references(datamap: DataMap) -> list[ReferenceRow]:
    """Each reference between collections, pointing the way values flow (fideslang's
    `direction`: "from" or none: from the referenced field into this one; "to": the other way)."""
    rows = []
    for collection in datamap.collections():
        for data_field in collection.leaf_fields():
            here = f"{collection.address}.{data_field.path}"
            for ref in data_field.references:
                there = ref.target.collection_address
                if ref.direction == "to":
                    rows.append(ReferenceRow(collection.address, there, f"{here} → {ref.target}"))
                else:
                    rows.append(ReferenceRow(there, collection.address, f"{ref.target} → {here}"))
    return rows


def graph(datamap: DataMap, systems: list[SystemRow], refs: list[ReferenceRow]) -> Markup:
    health = {row.key: row.health for row in systems}
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    for system in datamap.systems:
        nodes.append(
            GraphNode(f"system:{system.key}", system.key, system.connector, health[system.key])
        )
        for held in system.datasets:
            edges.append(GraphEdge(f"system:{system.key}", f"dataset:{held}", "holds"))
    # A collection reached by a reference hangs off its parent, not off its dataset too: the
    # graph stays readable, and the collections table lists every collection's dataset.
    referenced = {r.target for r in refs}
    for dataset in datamap.datasets:
        nodes.append(GraphNode(f"dataset:{dataset.key}", dataset.key, "dataset"))
        for collection in dataset.collections:
            nodes.append(_collection_node(collection))
            if collection.address not in referenced:
                edges.append(
                    GraphEdge(f"dataset:{dataset.key}", f"collection:{collection.address}", "has")
                )
    edges.extend(
        GraphEdge(f"collection:{r.source}", f"collection:{r.target}", r.fields) for r in refs
    )
    return draw(nodes, edges, title="Data map: systems, datasets, collections and references")


def _collection_node(collection: Collection) -> GraphNode:
    count = sum(1 for _ in collection.leaf_fields())
    return GraphNode(f"collection:{collection.address}", collection.name, f"{count} fields")
