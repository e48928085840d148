"""Plan a request over the data map: data map + policy + identity types -> ExecutionPlan.

Deterministic (everything is sorted), pure, and it explains every collection it leaves out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rightsflow.domain.datamap import Collection, DataField, DataMap
from rightsflow.domain.node_actions import NodeSpec, decide
from rightsflow.domain.plan import (
    Edge,
    ExecutionPlan,
    IdentityInput,
    PlanNode,
    Skipped,
    TargetField,
)
from rightsflow.domain.policy import Policy
from rightsflow.domain.requests import RequestType
from rightsflow.domain.retrieval_order import order_retrieval


def plan_request(
    datamap: DataMap,
    policy: Policy,
    identity_types: Iterable[str],
    corrections: Iterable[str] = (),
) -> ExecutionPlan:
    """`corrections`: the field addresses (`dataset:collection.path`) a rectification sets."""
    identities = tuple(sorted(set(identity_types)))
    collections = {c.address: c for c in datamap.collections()}
    references = _edges(datamap)
    waves, edges = order_retrieval(
        collections, references, _waves(collections, references, identities)
    )
    wanted = _Wanted(policy, frozenset(corrections))
    targets = {a: _targets(collections[a], wanted) for a in waves}
    notes: list[str] = []
    specs = decide(collections, waves, targets, policy, notes)
    kept = _prune(waves, edges, {a for a, spec in specs.items() if spec.needed})
    nodes = tuple(
        _node(
            datamap,
            collection=collections[a],
            waves=waves,
            edges=edges,
            identities=identities,
            spec=specs[a],
        )
        for a in sorted(kept, key=lambda a: (waves[a], a))
    )
    skipped = _skipped(
        collections=collections,
        waves=waves,
        kept=kept,
        wanted=wanted,
        identities=identities,
    )
    erase_order = _erase_order([n for n in nodes if n.erases], collections, notes)
    return ExecutionPlan(
        request_type=policy.type,
        policy_key=policy.key,
        identity_types=identities,
        nodes=nodes,
        erase_order=erase_order,
        skipped=skipped,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _Wanted:
    """Which fields a request is about: the policy's categories, or a rectification's fields."""

    policy: Policy

    corrections: frozenset[str]

    def __call__(self, collection: Collection, field: DataField) -> bool:
        if self.policy.type is RequestType.RECTIFICATION:
            return f"{collection.address}.{field.path}" in self.corrections
        return self.policy.targeted(field.categories, f"{collection.address}.{field.path}")


def _edges(datamap: DataMap) -> list[Edge]:
    """Every direction data can flow along a reference, sorted."""
    out: set[Edge] = set()
    for c in datamap.collections():
        for f in c.fields:
            for ref in f.references:
                target = ref.target
                if ref.direction in ("from", None):
                    out.add(Edge(target.collection_address, target.field, c.address, f.path))
                if ref.direction in ("to", None):
                    out.add(Edge(c.address, f.path, target.collection_address, target.field))
    return sorted(
        out,
        key=lambda e: (e.target_collection, e.target_field, e.source_collection, e.source_field),
    )


def _waves(
    collections: dict[str, Collection], edges: list[Edge], identities: tuple[str, ...]
) -> dict[str, int]:
    """Breadth-first from the collections that hold one of the request's identities."""
    wave = {
        a: 0
        for a, c in collections.items()
        if any(f.identity in identities for f in c.fields if f.identity)
    }
    depth = 0
    while True:
        frontier = {
            e.target_collection
            for e in edges
            if wave.get(e.source_collection) == depth
            and e.target_collection not in wave
            and e.target_collection in collections
        }
        if not frontier:
            return wave
        depth += 1
        wave.update(dict.fromkeys(frontier, depth))


def _targets(collection: Collection, wanted: _Wanted) -> tuple[TargetField, ...]:
    out = []
    policy = wanted.policy
    for f in collection.leaf_fields():
        if not wanted(collection, f):
            continue
        target = TargetField(
            f.path,
            f.categories,
            length=f.length,
            data_type=f.data_type,
            db_type=f.db_type,
            unique=f.unique,
            nullable=f.nullable,
        )
        if policy.type is RequestType.ERASURE:
            rule = policy.rule_for(f.categories, f"{collection.address}.{f.path}")
            granularity = None if rule.granularity is None else str(rule.granularity)
            target = replace(
                target, strategy=rule.strategy, value=rule.value, granularity=granularity
            )
        out.append(target)
    return tuple(out)


def _prune(waves: dict[str, int], edges: list[Edge], needed: set[str]) -> set[str]:
    """Keep the collections the request needs, and those on the way to one."""
    kept = set(needed)
    for address in sorted(waves, key=lambda a: -waves[a]):
        feeds = {
            e.target_collection
            for e in edges
            if e.source_collection == address
            and waves.get(e.target_collection, -1) > waves[address]
        }
        if feeds & kept:
            kept.add(address)
    return kept


def _node(
    datamap: DataMap,
    *,
    collection: Collection,
    waves: dict[str, int],
    edges: list[Edge],
    identities: tuple[str, ...],
    spec: NodeSpec,
) -> PlanNode:
    address, wave = collection.address, waves[collection.address]
    system = datamap.system_for(collection.dataset)
    assert system is not None, "the data map parser guarantees every dataset is bound"  # noqa: S101
    identity_inputs = tuple(
        IdentityInput(f.identity, f.path)
        for f in collection.fields
        if f.identity in identities and f.identity
    )
    inputs = tuple(e for e in edges if e.target_collection == address)
    outputs = [e.source_field for e in edges if e.source_collection == address]
    fetch = {*collection.primary_key, *(t.path for t in spec.targets), *outputs, *spec.detach}
    fetch.update(e.target_field for e in inputs)
    fetch.update(i.field for i in identity_inputs)
    if spec.action == "restrict" and spec.restriction is not None:
        fetch.add(spec.restriction.field)
    return PlanNode(
        address=address,
        system=system.key,
        connector=system.connector,
        wave=wave,
        primary_key=collection.primary_key,
        identity_inputs=identity_inputs,
        edge_inputs=inputs,
        targets=spec.targets,
        fetch_fields=tuple(sorted({p.split(".", 1)[0] for p in fetch})),
        action=spec.action,
        exemption=spec.exemption,
        detach=spec.detach,
        restriction=spec.restriction if spec.action == "restrict" else None,
    )


def _skipped(
    *,
    collections: dict[str, Collection],
    waves: dict[str, int],
    kept: set[str],
    wanted: _Wanted,
    identities: tuple[str, ...],
) -> tuple[Skipped, ...]:
    out = []
    kind = wanted.policy.type
    for address, c in sorted(collections.items()):
        holds = any(wanted(c, f) for f in c.leaf_fields())
        if address not in waves:
            reason = (
                f"no identity field for {', '.join(identities) or 'the given identities'} and no "
                "reference path from a collection that has one"
            )
            out.append(Skipped(address, reason, holds))
        elif kind is RequestType.RESTRICTION and holds and c.restriction is None:
            reason = (
                "declares no restriction flag (fides_meta.rightsflow.restriction), so "
                "processing there cannot be marked restricted"
            )
            out.append(Skipped(address, reason, True))
        elif address not in kept:
            out.append(Skipped(address, "reachable, but holds no targeted data categories", False))
        elif kind.writes and holds and not c.primary_key:
            reason = "no primary key field, so its rows cannot be changed one by one"
            out.append(Skipped(address, reason, True))
    return tuple(out)


def _erase_order(
    nodes: list[PlanNode], collections: dict[str, Collection], notes: list[str]
) -> tuple[tuple[str, ...], ...]:
    """Groups of collections, children (those holding a reference) before their parents.

    Collections in a reference cycle cannot be ordered among themselves: they share a group,
    and everything they reference still comes after them."""
    erasable = {n.address for n in nodes if collections[n.address].primary_key}
    parents: dict[str, set[str]] = {a: set() for a in erasable}  # child -> parents it references
    for address in erasable:
        for f in collections[address].fields:
            for ref in f.references:
                parent = ref.target.collection_address
                if parent in erasable and parent != address:
                    parents[address].add(parent)
    _apply_erase_after(parents, collections)
    component = _components(parents)
    members: dict[str, list[str]] = defaultdict(list)
    for address in sorted(erasable):
        members[component[address]].append(address)
    for group in members.values():
        if len(group) > 1:
            notes.append(
                f"reference cycle between {', '.join(group)}: erased together; if their "
                "constraints refuse that, declare `on_parent_erase: detach` on one of them or "
                "an `erase_after` order"
            )
    # Component graph: child component -> parent components.
    up = {c: {component[p] for a in m for p in parents[a]} - {c} for c, m in members.items()}
    groups: list[tuple[str, ...]] = []
    remaining = set(members)
    while remaining:
        ready = [c for c in remaining if not any(c in up[o] for o in remaining)]
        groups.append(tuple(sorted(a for c in ready for a in members[c])))
        remaining -= set(ready)
    return tuple(groups)


def _apply_erase_after(parents: dict[str, set[str]], collections: dict[str, Collection]) -> None:
    """A hand-written `erase_after` wins over the order the references give."""
    for address, ups in list(parents.items()):
        for before in collections[address].erase_after:
            if before not in parents or before == address:
                continue
            ups.discard(before)  # no longer "address before its parent"
            parents[before].add(address)  # `before` is erased first, like a child


def _components(edges: dict[str, set[str]]) -> dict[str, str]:
    """Strongly connected components (Tarjan); each node maps to its component's first name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: dict[str, str] = {}

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            name = min(group)
            out.update(dict.fromkeys(group, name))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out
