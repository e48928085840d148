"""What each reached collection does for a request: return, mask, delete, keep, restrict,
rectify — and, for erasure, what deleting a row does to the rows that reference it.

Pure. The planner calls `decide` once per request; every decision that is not plain
(a cascade, a detach, a delete turned into a mask) is explained in `notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from rightsflow.domain.datamap import Collection, Exemption, RestrictionFlag
from rightsflow.domain.plan import TargetField
from rightsflow.domain.policy import MaskStrategy, Policy
from rightsflow.domain.requests import RequestType


@dataclass(frozen=True)
class NodeSpec:
    action: str
    targets: tuple[TargetField, ...] = ()
    exemption: Exemption | None = None
    detach: tuple[str, ...] = ()
    restriction: RestrictionFlag | None = None

    @property
    def needed(self) -> bool:
        """Whether the collection must be in the plan for its own sake."""
        return self.action != "read" or bool(self.detach)


def decide(
    collections: Mapping[str, Collection],
    reached: Mapping[str, int],
    targets: Mapping[str, tuple[TargetField, ...]],
    policy: Policy,
    notes: list[str],
) -> dict[str, NodeSpec]:
    kind = policy.type
    if kind is RequestType.ERASURE:
        return _erasure(collections, reached, targets, policy, notes)
    out = {}
    for address in reached:
        found = targets[address]
        if kind.reads_only:
            out[address] = NodeSpec("return" if found else "read", found)
        elif kind is RequestType.RECTIFICATION:
            out[address] = NodeSpec("rectify" if found else "read", found)
        else:  # restriction: only where the data map says how to record it
            flag = collections[address].restriction
            restrict = bool(found) and flag is not None
            out[address] = NodeSpec("restrict" if restrict else "read", found, restriction=flag)
    return out


def _erasure(
    collections: Mapping[str, Collection],
    reached: Mapping[str, int],
    targets: Mapping[str, tuple[TargetField, ...]],
    policy: Policy,
    notes: list[str],
) -> dict[str, NodeSpec]:
    specs = {a: _own_erasure(collections[a], targets[a], policy, notes) for a in sorted(reached)}
    _cascade(collections, specs, notes)
    for address, spec in specs.items():
        if spec.action == "mask":
            specs[address] = _without_keys(collections[address], spec, notes)
    return specs


def _own_erasure(
    collection: Collection, found: tuple[TargetField, ...], policy: Policy, notes: list[str]
) -> NodeSpec:
    """The collection's own erasure, before looking at what references what."""
    if not found:
        return NodeSpec("read")
    if collection.erasure == "keep":
        return NodeSpec("keep", found, exemption=collection.exemption)
    if collection.erasure == "delete":
        return NodeSpec("delete", found)
    deleting = [t.path for t in found if t.strategy is MaskStrategy.DELETE]
    if collection.erasure == "mask" and deleting:
        # The data map says rows here are masked, never deleted: its word wins.
        notes.append(
            f"{collection.address}: masked as its data map says; the policy's delete rule for "
            f"{', '.join(deleting)} sets NULL here instead"
        )
        return NodeSpec("mask", _nulled(found))
    if collection.erasure is None and (policy.erasure_mode == "delete" or deleting):
        return NodeSpec("delete", found)
    return NodeSpec("mask", found)


def _cascade(
    collections: Mapping[str, Collection], specs: dict[str, NodeSpec], notes: list[str]
) -> None:
    """What deleting rows does to the rows that reference them.

    A row can be deleted only if every row that references it is deleted too or detached
    (reference set to NULL, where the data map says `on_parent_erase: detach`). Kept rows
    (an exemption) are never deleted, so whatever they reference — directly or through
    rows that must stay for them — is masked instead of deleted. Both sets are fixpoints of
    monotone rules, so the outcome does not depend on the order of names and always ends."""
    children = _children(collections, specs)
    blocked = _blocked(specs, children)
    deleted = {a for a, spec in specs.items() if spec.action == "delete" and a not in blocked}
    for address in sorted(a for a, s in specs.items() if s.action == "delete" and a in blocked):
        specs[address] = replace(
            specs[address], action="mask", targets=_nulled(specs[address].targets)
        )
        notes.append(
            f"{address}: masked instead of deleted, because rows kept under an exemption "
            "reference it (declare `on_parent_erase: detach` on them to delete it)"
        )
    frontier = sorted(deleted)
    while frontier:
        parent = frontier.pop(0)
        for child, field, detaches in children[parent]:
            spec = specs[child]
            if detaches:
                if child not in deleted and field not in spec.detach:
                    specs[child] = replace(spec, detach=(*spec.detach, field))
                    notes.append(f"{child}.{field}: set to NULL where it points at erased rows")
            elif child not in deleted:
                deleted.add(child)
                frontier.append(child)
                specs[child] = replace(spec, action="delete", exemption=None)
                notes.append(f"{child}: rows deleted with the {parent} rows they reference")


def _nulled(targets: tuple[TargetField, ...]) -> tuple[TargetField, ...]:
    """A delete rule's fields, when the rows stay: set to NULL."""
    return tuple(
        replace(t, strategy=MaskStrategy.NULL) if t.strategy is MaskStrategy.DELETE else t
        for t in targets
    )


def _children(
    collections: Mapping[str, Collection], specs: Mapping[str, NodeSpec]
) -> dict[str, list[tuple[str, str, bool]]]:
    """Parent -> (child, referencing field, child detaches) over the reached collections."""
    out: dict[str, list[tuple[str, str, bool]]] = {a: [] for a in specs}
    for child in sorted(specs):
        detaches = collections[child].on_parent_erase == "detach"
        for field, parent in _references(collections[child]):
            if parent in specs and parent != child:
                out[parent].append((child, field, detaches))
    return out


def _blocked(
    specs: Mapping[str, NodeSpec], children: Mapping[str, list[tuple[str, str, bool]]]
) -> set[str]:
    """Collections whose rows cannot be deleted: a kept or blocked child references them."""
    blocked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for parent, kids in children.items():
            if parent in blocked:
                continue
            if any(
                not detaches and (specs[child].action == "keep" or child in blocked)
                for child, _, detaches in kids
            ):
                blocked.add(parent)
                changed = True
    return blocked


def _references(collection: Collection) -> list[tuple[str, str]]:
    """(field, referenced collection address) for each reference the collection holds."""
    return sorted(
        (f.path, ref.target.collection_address) for f in collection.fields for ref in f.references
    )


def _without_keys(collection: Collection, spec: NodeSpec, notes: list[str]) -> NodeSpec:
    keys = set(collection.primary_key)
    kept_keys = [t.path for t in spec.targets if t.path in keys]
    if not kept_keys:
        return spec
    notes.append(
        f"{collection.address}: primary key {', '.join(kept_keys)} is targeted but kept; "
        "masking a key would orphan rows (use the delete strategy to remove the row)"
    )
    return replace(spec, targets=tuple(t for t in spec.targets if t.path not in keys))
