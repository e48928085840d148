"""In which order a request reads its collections, and which found rows feed which lookup.

Breadth-first search from the identity holders decides what is reachable, and its tree of
references always feeds lookups. Every other reference that points the reference's own way
(from the row pointed at to the row holding the reference) feeds a lookup too, wherever the
two collections sit, unless it would make reading circular — so a row linked to the subject
only through a sibling or a more distant parent is still found. Edges are considered in name
order, so the outcome is deterministic.
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
    reached = [
        e
        for e in edges
        if e.source_collection in depth
        and e.target_collection in depth
        and e.source_collection != e.target_collection
    ]
    tree = [e for e in reached if depth[e.source_collection] < depth[e.target_collection]]
    more = [e for e in reached if e not in tree and _downstream(e, collections)]
    kept = _acyclic(tree, more)
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


def _downstream(e: Edge, collections: Mapping[str, Collection]) -> bool:
    """Whether the edge follows a reference from the row pointed at to the row holding it."""
    holder = collections[e.target_collection].field(e.target_field)
    return holder is not None and any(
        r.target.collection_address == e.source_collection and r.target.field == e.source_field
        for r in holder.references
    )


def _acyclic(tree: list[Edge], more: list[Edge]) -> list[Edge]:
    """The tree (acyclic: it follows BFS depth), plus each further edge, in name order, that
    does not close a cycle with those already kept."""
    out: dict[str, set[str]] = {}
    for e in tree:
        out.setdefault(e.source_collection, set()).add(e.target_collection)
    kept = list(tree)
    ordered = sorted(
        more,
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
