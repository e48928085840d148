"""How a collection's rows are looked up: identity values and the values found upstream.

Connectors take one list of values per field and return rows matching any of them. A
composite reference (t2.(t1_id, t1_part) -> t1.(id, part)) is a pair, not two independent
values: sent as two lists, it also matches rows pairing one subject's `id` with another's
`part`. `Lookup.admits` keeps only rows that match a whole tuple (or another input), so no
other subject's row is read, erased or counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from rightsflow.domain.connector import Row, Scalar
from rightsflow.domain.errors import Conflict
from rightsflow.domain.plan import Edge, ExecutionPlan, PlanNode
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.rows import iter_rows, stored_pages, to_json
from rightsflow.services.subject import open_subject


@dataclass
class Lookup:
    values: dict[str, list[Scalar]]  # what the connector is asked for, per field
    singles: dict[str, set[str]] = field(default_factory=dict)  # field -> normalised values
    pairs: list[tuple[tuple[str, ...], set[tuple[str, ...]]]] = field(default_factory=list)

    def admits(self, row: Row) -> bool:
        if not self.pairs:
            return True  # every input is a single field: the connector's OR is exact
        if any(normalised(row.get(f)) in values for f, values in self.singles.items()):
            return True
        return any(tuple(normalised(row.get(f)) for f in fs) in tuples for fs, tuples in self.pairs)

    def only_matching(self, rows: Iterable[Row]) -> list[Row]:
        return [r for r in rows if self.admits(r)]


def lookup_for(
    platform: Platform, uow: UnitOfWork, request_id: str, plan: ExecutionPlan, node: PlanNode
) -> Lookup:
    identities = open_subject(
        platform.vault, request_id, uow.requests.sealed_identities(request_id)
    ).identities
    return lookup_from(
        plan,
        node,
        identities,
        lambda source: _source_rows(platform, uow, request_id, source),
    )


def lookup_from(
    plan: ExecutionPlan,
    node: PlanNode,
    identities: Mapping[str, Scalar],
    rows_of: Callable[[str], Iterable[Row]],
) -> Lookup:
    """A subject's lookup for `node`: its identities, and the values of the rows found for it
    upstream (`rows_of(source collection)`). A missing identity type finds nothing here."""
    lookup = Lookup({})
    singles: dict[str, set[Scalar]] = {}
    for given in node.identity_inputs:
        value = identities.get(given.identity)
        if value is not None:
            singles.setdefault(given.field, set()).add(value)
    for group in _groups(plan, node):
        rows = rows_of(group[0].source_collection)
        if len(group) == 1:
            e = group[0]
            singles.setdefault(e.target_field, set()).update(
                r[e.source_field] for r in rows if r.get(e.source_field) is not None
            )
            continue
        tuples = {tuple(r.get(e.source_field) for e in group) for r in rows}
        tuples = {t for t in tuples if None not in t}
        for i, e in enumerate(group):
            lookup.values.setdefault(e.target_field, []).extend(t[i] for t in tuples)
        targets = tuple(e.target_field for e in group)
        lookup.pairs.append((targets, {tuple(normalised(v) for v in t) for t in tuples}))
    for name, values in singles.items():
        lookup.values.setdefault(name, []).extend(values)
        lookup.singles[name] = {normalised(v) for v in values}
    lookup.values = {f: sorted(set(v), key=repr) for f, v in lookup.values.items() if v}
    return lookup


def _groups(plan: ExecutionPlan, node: PlanNode) -> list[list[Edge]]:
    """Input edges, with those that together carry a source's composite key grouped."""
    by_source: dict[str, list[Edge]] = {}
    for e in node.edge_inputs:
        by_source.setdefault(e.source_collection, []).append(e)
    out: list[list[Edge]] = []
    for source, edges in sorted(by_source.items()):
        key = set(plan.node(source).primary_key)
        joint = [e for e in edges if e.source_field in key]
        if len(key) > 1 and {e.source_field for e in joint} == key and len(joint) == len(key):
            out.append(sorted(joint, key=lambda e: e.source_field))
            out.extend([e] for e in edges if e not in joint)
        else:
            out.extend([e] for e in edges)
    return out


def _source_rows(
    platform: Platform, uow: UnitOfWork, request_id: str, source: str
) -> Iterator[Row]:
    """The rows found upstream, page by page (consumed inside the unit of work)."""
    found = uow.results.get(request_id, source, "retrieve")
    if found is None or found.status != "done":
        raise Conflict(f"{source} has not been read yet")
    return iter_rows(platform.vault, request_id, stored_pages(uow.results, request_id, source))


def normalised(value: object) -> str:
    """One text form for a value from the connector and the same value back from storage."""
    if type(value) is str:  # the usual values, without the JSON round trip (same text)
        return value
    if type(value) is int:
        return str(value)
    plain = json.loads(to_json([value]))[0]
    return plain if isinstance(plain, str) else json.dumps(plain)


def restrict_to(lookup: Lookup, pages: Iterable[list[Row]]) -> Iterable[list[Row]]:
    for page in pages:
        yield lookup.only_matching(page)
