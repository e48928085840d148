"""In which order a request reads its collections, and which found rows feed which lookup.

Breadth-first search from the identity holders decides what is reachable. Every reference
between reachable collections then feeds a lookup — not only those from an earlier BFS level —
so a row linked to the subject only through a sibling (t2 -> t1 -> root, with t2's own
reference to the root empty) is still found. References that would make reading circular are
dropped deterministically: first those pointing back towards the identity holders, then
(between collections at the same distance) those against the reference's own direction, then
whichever closes a cycle, in name order.
"""

from __future__ import annotations

from collections.abc import Mapping

from rightsflow.domain.datamap import Collection
from rightsflow.domain.plan import Edge


def order_retrieval(
    collections: Mapping[str, Collection], edges: list[Edge], depth: Mapping[str, int]
) -> tuple[dict[str, int], list[Edge]]:
    """(wave per reachable collection, the edges that feed lookups), every edge going from a
    lower wave to a higher one."""
    candidates = [
        e
        for e in edges
        if e.source_collection in depth
        and e.target_collection in depth
        and e.source_collection != e.target_collection
        and _forward(e, collections, depth)
    ]
    kept = _acyclic(candidates)
    wave = dict.fromkeys(depth, 0)
    for _ in range(len(depth)):
        changed = False
        for e in kept:
            if wave[e.target_collection] <= wave[e.source_collection]:
                wave[e.target_collection] = wave[e.source_collection] + 1
                changed = True
        if not changed:
            break
    return wave, kept


def _forward(e: Edge, collections: Mapping[str, Collection], depth: Mapping[str, int]) -> bool:
    source, target = depth[e.source_collection], depth[e.target_collection]
    if source != target:
        return source < target
    # Same distance: follow the reference from the row it points at to the row that holds it.
    holder = collections[e.target_collection].field(e.target_field)
    return holder is not None and any(
        r.target.collection_address == e.source_collection and r.target.field == e.source_field
        for r in holder.references
    )


def _acyclic(edges: list[Edge]) -> list[Edge]:
    """Drop, in order, every edge that would close a cycle with those already kept."""
    out: dict[str, set[str]] = {}
    kept = []
    ordered = sorted(
        edges,
        key=lambda e: (e.source_collection, e.target_collection, e.source_field, e.target_field),
    )
    for e in ordered:
        if _reaches(out, e.target_collection, e.source_collection):
            continue
        out.setdefault(e.source_collection, set()).add(e.target_collection)
        kept.append(e)
    return kept


def _reaches(out: Mapping[str, set[str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in out.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False
