"""Planner properties over random data maps, checked against an independent graph model."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections import deque
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rightsflow.domain.datamap import (
    Collection,
    DataField,
    DataMap,
    Dataset,
    FieldAddress,
    Reference,
    System,
)
from rightsflow.domain.plan import ExecutionPlan
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ACCESS, DEFAULT_ERASURE, Policy

# Hypothesis imports libcst to report a failure; its import warns -> INTERNALERROR. Pre-import it.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

CATEGORIES = ("user.contact.email", "user.contact.phone_number", "user.name", "system.operations")
CATEGORIES += ("user.financial.credit_card", "user.device.ip_address")
CATEGORIES += ("user.behavior.purchase_history",)
PK_CATEGORIES = ("system.operations", "system.operations", "user.unique_id", "user.contact.email")
MODEST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EMAIL = {"path": "email", "categories": ("user.contact.email",), "identity": "email"}
PHONE = {"path": "phone", "categories": ("user.contact.phone_number",), "identity": "phone_number"}


@st.composite
def collection_fields(draw: st.DrawFn) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    if draw(st.integers(0, 4)) > 0:  # most collections have an integer `id` key
        pk_category = draw(st.sampled_from(PK_CATEGORIES))
        fields.append({"path": "id", "categories": (pk_category,), "primary_key": True})
    for i in range(draw(st.integers(0, 3))):
        categories = draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True))
        fields.append({"path": f"f{i}", "categories": tuple(categories)})
    if draw(st.integers(0, 2)) == 0:
        fields.append(dict(EMAIL))
    if draw(st.integers(0, 4)) == 0:
        fields.append(dict(PHONE))
    return fields or [{"path": "f0", "categories": ("system.operations",)}]


@st.composite
def datamaps(draw: st.DrawFn) -> DataMap:
    specs = {
        (f"d{d}", f"c{c}"): draw(collection_fields())
        for d in range(draw(st.integers(1, 3)))
        for c in range(draw(st.integers(1, 8)))
    }
    by_field = {(*k, f["path"]): f for k, fs in specs.items() for f in fs}
    addresses = st.sampled_from(sorted(by_field))
    directions = st.sampled_from(["from", "to", None])
    refs = draw(st.lists(st.tuples(addresses, addresses, directions), max_size=10))
    for src, dst, direction in (r for r in refs if r[0] != r[1]):
        ref = Reference(FieldAddress(*dst), direction)
        by_field[src]["references"] = (*by_field[src].get("references", ()), ref)
    collections: dict[str, list[Collection]] = {}
    for (ds, name), fs in specs.items():
        fields = tuple(DataField(**f) for f in fs)
        collections.setdefault(ds, []).append(Collection(ds, name, fields))
    keys = sorted(collections)
    n = draw(st.integers(1, len(keys)))  # systems, each bound to one or more datasets
    systems = tuple(System(f"s{i}", "sql", tuple(keys[i::n])) for i in range(n))
    return DataMap(systems, tuple(Dataset(k, tuple(collections[k])) for k in keys))


POLICIES = st.sampled_from([DEFAULT_ACCESS, DEFAULT_ERASURE])
IDENTITIES = st.frozensets(st.sampled_from(["email", "phone_number", "user_id"]))


def targeted(categories: tuple[str, ...], policy: Policy) -> bool:
    return any(c == t or c.startswith(t + ".") for c in categories for t in policy.targets)


def holds_targeted(c: Collection, policy: Policy) -> bool:
    return any(targeted(f.categories, policy) for f in c.fields)


def flow_edges(dm: DataMap) -> set[tuple[str, str, str, str]]:
    """(source collection, source field, target collection, target field) per data flow."""
    out = set()
    for c in dm.collections():
        for f in c.fields:
            for r in f.references:
                other = (r.target.collection_address, r.target.field)
                if r.direction in ("from", None):
                    out.add((*other, c.address, f.path))
                if r.direction in ("to", None):
                    out.add((c.address, f.path, *other))
    return out


def bfs_depth(dm: DataMap, identities: frozenset[str]) -> dict[str, int]:
    depth = {
        c.address: 0 for c in dm.collections() if any(f.identity in identities for f in c.fields)
    }
    adjacency: dict[str, set[str]] = {}
    for s, _, t, _ in flow_edges(dm):
        adjacency.setdefault(s, set()).add(t)
    queue = deque(sorted(depth))
    while queue:
        here = queue.popleft()
        for nxt in sorted(adjacency.get(here, ())):
            if nxt not in depth:
                depth[nxt] = depth[here] + 1
                queue.append(nxt)
    return depth


def reference_sccs(dm: DataMap, among: set[str]) -> dict[str, set[str]]:
    """Strongly connected components of the 'holds a reference to' graph within `among`."""
    reach = {a: {a} for a in among}  # transitive closure, grown to a fixed point
    pairs = {
        (c.address, r.target.collection_address)
        for c in dm.collections()
        for f in c.fields
        for r in f.references
        if c.address in among and r.target.collection_address in among
    }
    while any(not reach[b] <= reach[a] for a, b in pairs):
        for a, b in pairs:
            reach[a] |= reach[b]
    return {a: {b for b in among if b in reach[a] and a in reach[b]} for a in among}


@MODEST
@given(dm=datamaps(), policy=POLICIES, identities=IDENTITIES)
def test_reachable_targeted_collections_are_planned_and_nothing_else(
    dm: DataMap, policy: Policy, identities: frozenset[str]
) -> None:
    plan = plan_request(dm, policy, identities)
    depth = bfs_depth(dm, identities)
    planned = {n.address for n in plan.nodes}
    for c in dm.collections():
        if c.address in depth and holds_targeted(c, policy):
            assert c.address in planned
    assert planned <= set(depth)
    # A planned collection without targeted data is there only to lead to one.
    for n in plan.nodes:
        if not holds_targeted(dm.collection(n.address), policy):
            feeds = {t for s, _, t, _ in flow_edges(dm) if s == n.address}
            assert any(plan.node(t).wave > n.wave for t in feeds & planned)


@MODEST
@given(dm=datamaps(), policy=POLICIES, identities=IDENTITIES)
def test_everything_left_out_is_explained(
    dm: DataMap, policy: Policy, identities: frozenset[str]
) -> None:
    plan = plan_request(dm, policy, identities)
    depth = bfs_depth(dm, identities)
    planned = {n.address for n in plan.nodes}
    skipped = {s.address: s for s in plan.skipped}
    assert len(skipped) == len(plan.skipped)
    unreachable = {s.address for s in plan.unreachable}
    for c in dm.collections():
        if c.address not in planned:
            assert c.address in skipped
            assert skipped[c.address].reason.strip()
        if c.address not in depth and holds_targeted(c, policy):
            assert c.address in unreachable
        if c.address in depth and not holds_targeted(c, policy):
            assert c.address not in unreachable
    for address in planned & set(skipped):  # only erasure of a collection with no key
        assert policy is DEFAULT_ERASURE
        assert not dm.collection(address).primary_key
        assert "primary key" in skipped[address].reason


@MODEST
@given(dm=datamaps(), policy=POLICIES, identities=IDENTITIES)
def test_waves_follow_the_references(
    dm: DataMap, policy: Policy, identities: frozenset[str]
) -> None:
    plan = plan_request(dm, policy, identities)
    depth = bfs_depth(dm, identities)
    flows = flow_edges(dm)
    planned = {n.address: n for n in plan.nodes}
    for n in plan.nodes:
        assert n.address in depth  # only reachable collections are planned
        for e in n.edge_inputs:
            assert e.target_collection == n.address
            assert e.source_collection in planned
            assert planned[e.source_collection].wave < n.wave
            assert (e.source_collection, e.source_field, n.address, e.target_field) in flows
            top = e.source_field.split(".", 1)[0]
            assert top in planned[e.source_collection].fetch_fields
        # Every reference from a collection nearer to the identities feeds the lookup.
        nearer = {
            f
            for f in flows
            if f[2] == n.address and f[0] in planned and depth[f[0]] < depth[n.address]
        }
        used = {
            (e.source_collection, e.source_field, e.target_collection, e.target_field)
            for e in n.edge_inputs
        }
        assert nearer <= used
        if depth[n.address] == 0:
            assert n.identity_inputs
            collection = dm.collection(n.address)
            for given_identity in n.identity_inputs:
                assert given_identity.identity in identities
                assert collection.field(given_identity.field).identity == given_identity.identity
        else:
            assert n.edge_inputs
            assert not n.identity_inputs
        if n.wave == 0:
            assert not n.edge_inputs
    assert all(plan.waves)


def _cycle_with_a_parent() -> DataMap:
    """c0 and c1 reference each other; c1 also references c2, which is a parent, not in it."""
    ops = ("system.operations",)

    def ref(name: str, to: str) -> DataField:
        return DataField(name, ops, references=(Reference(FieldAddress("d0", to, "id")),))

    def col(name: str, *fields: DataField) -> Collection:
        return Collection("d0", name, (DataField("id", ops, primary_key=True), *fields))

    c0 = col("c0", DataField(**EMAIL), ref("c1_id", "c1"))
    c1 = col("c1", DataField("f0", ("user.name",)), ref("c0_id", "c0"), ref("c2_id", "c2"))
    c2 = col("c2", DataField("f0", ("user.name",)))
    return DataMap((System("s0", "sql", ("d0",)),), (Dataset("d0", (c0, c1, c2)),))


@MODEST
@given(dm=datamaps(), identities=IDENTITIES)
@example(dm=_cycle_with_a_parent(), identities=frozenset({"email"}))
def test_erase_order_children_before_parents(dm: DataMap, identities: frozenset[str]) -> None:
    plan = plan_request(dm, DEFAULT_ERASURE, identities)
    erasable = {n.address for n in plan.nodes if n.erases and n.primary_key}
    flat = [a for group in plan.erase_order for a in group]
    assert sorted(flat) == sorted(erasable)  # each exactly once, nothing else
    group_of = {a: i for i, group in enumerate(plan.erase_order) for a in group}
    scc = reference_sccs(dm, erasable)
    cycle_notes = [n for n in plan.notes if "cycle" in n]
    for c in dm.collections():
        for f in c.fields:
            for r in f.references:
                child, parent = c.address, r.target.collection_address
                if child == parent or child not in erasable or parent not in erasable:
                    continue
                if parent in scc[child]:
                    assert group_of[child] == group_of[parent]
                    assert any(child in n and parent in n for n in cycle_notes)
                else:
                    assert group_of[child] < group_of[parent], (child, parent, plan.erase_order)


@MODEST
@given(dm=datamaps(), policy=POLICIES, identities=IDENTITIES)
def test_plans_are_deterministic_and_survive_json(
    dm: DataMap, policy: Policy, identities: frozenset[str]
) -> None:
    plan = plan_request(dm, policy, identities)
    assert plan_request(dm, policy, sorted(identities, reverse=True)) == plan
    assert ExecutionPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def _in_user(categories: tuple[str, ...]) -> bool:
    return any(c == "user" or c.startswith("user.") for c in categories)


@MODEST
@given(dm=datamaps(), policy=POLICIES, identities=IDENTITIES)
def test_targets_are_exactly_the_targeted_fields(
    dm: DataMap, policy: Policy, identities: frozenset[str]
) -> None:
    plan = plan_request(dm, policy, identities)
    rules = {r.category: r for r in policy.masking}
    for n in plan.nodes:
        collection = dm.collection(n.address)
        assert all(targeted(t.categories, policy) for t in n.targets)
        paths = {t.path for t in n.targets}
        wanted = {f.path for f in collection.fields if targeted(f.categories, policy)}
        fetched = {*n.primary_key, *(i.field for i in n.identity_inputs), *paths}
        assert {p.split(".", 1)[0] for p in fetched} <= set(n.fetch_fields)
        if policy is DEFAULT_ACCESS:
            assert paths == {f.path for f in collection.fields if _in_user(f.categories)}
            assert n.action == ("return" if paths else "read")
        else:
            assert paths == wanted - set(collection.primary_key)
            assert n.action == ("mask" if wanted else "read")
            for t in n.targets:
                matching = [
                    rules[k]
                    for k in rules
                    if any(c == k or c.startswith(k + ".") for c in t.categories)
                ]
                assert (t.strategy, t.value) in {(r.strategy, r.value) for r in matching}
