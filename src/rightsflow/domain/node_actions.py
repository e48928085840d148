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
    specs = {a: _own_erasure(collections[a], targets[a], policy) for a in sorted(reached)}
    _cascade(collections, specs, notes)
    for address, spec in specs.items():
        if spec.action == "mask":
            specs[address] = _without_keys(collections[address], spec, notes)
    return specs


def _own_erasure(
    collection: Collection, found: tuple[TargetField, ...], policy: Policy
) -> NodeSpec:
    """The collection's own erasure, before looking at what references what."""
    if not found:
        return NodeSpec("read")
    if collection.erasure == "keep":
        return NodeSpec("keep", found, exemption=collection.exemption)
    if collection.erasure == "delete":
        return NodeSpec("delete", found)
    if collection.erasure is None:
        wants_delete = policy.erasure_mode == "delete"
        if wants_delete or any(t.strategy is MaskStrategy.DELETE for t in found):
            return NodeSpec("delete", found)
    return NodeSpec("mask", found)


def _cascade(
    collections: Mapping[str, Collection], specs: dict[str, NodeSpec], notes: list[str]
) -> None:
    """Rows that reference a deleted row are deleted too, or detached (their reference set to
    NULL) where the data map says so; a kept row that would block the delete turns the parent's
    delete into a mask. Repeats until nothing changes (cascades go down several levels)."""
    changed = True
    while changed:
        changed = False
        for address in sorted(specs):
            child = collections[address]
            for field, parent in _references(child):
                if parent == address or specs.get(parent, NodeSpec("read")).action != "delete":
                    continue
                spec = specs[address]
                if spec.action == "delete" or field in spec.detach:
                    continue
                if child.on_parent_erase == "detach":
                    specs[address] = replace(spec, detach=(*spec.detach, field))
                    notes.append(f"{address}.{field}: set to NULL where it points at erased rows")
                elif spec.action == "keep":
                    specs[parent] = replace(specs[parent], action="mask")
                    notes.append(
                        f"{parent}: masked instead of deleted, because {address} keeps rows that "
                        "reference it (declare `on_parent_erase: detach` there to delete them)"
                    )
                else:
                    specs[address] = replace(spec, action="delete")
                    notes.append(f"{address}: rows deleted with the {parent} rows they reference")
                changed = True


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
