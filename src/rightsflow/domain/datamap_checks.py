"""Warnings about a data map under its policies: gaps and erasures the database would refuse.

`datamap validate` prints them; none stops the platform (the data map is valid), but each
is something a privacy engineer should fix or accept knowingly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rightsflow.domain.datamap import DataMap
from rightsflow.domain.masking import constraint_problems
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import Policy
from rightsflow.domain.requests import RequestType


def check_datamap(datamap: DataMap, policies: Mapping[str, Policy]) -> list[str]:
    identities = sorted(datamap.identity_types())
    out: list[str] = []
    for key in sorted(policies):
        policy = policies[key]
        if policy.type is RequestType.RECTIFICATION:
            continue  # its targets are the fields a request names
        plan = plan_request(datamap, policy, identities)
        out.extend(_unreachable(plan, key))
        if policy.type is RequestType.ERASURE:
            out.extend(_erasure_problems(datamap, plan, key))
    out.extend(_awaiting_review(datamap))
    return list(dict.fromkeys(out))


def _unreachable(plan: ExecutionPlan, policy: str) -> Iterable[str]:
    unflagged = []
    for s in plan.unreachable:
        if plan.request_type is RequestType.RESTRICTION and s.reason.startswith("declares no"):
            unflagged.append(s.address)
            continue
        yield f"{s.address}: holds data policy {policy} targets, but {s.reason}"
    if unflagged:
        yield (
            f"policy {policy}: {len(unflagged)} collection(s) hold targeted data but declare no "
            f"restriction flag (fides_meta.rightsflow.restriction): {', '.join(unflagged)}"
        )


def _erasure_problems(datamap: DataMap, plan: ExecutionPlan, policy: str) -> Iterable[str]:
    referenced = _referenced_fields(datamap)
    for note in plan.notes:
        if note.startswith("reference cycle"):
            yield note
    for node in plan.nodes:
        collection = datamap.collection(node.address)
        for path in node.detach:
            f = collection.field(path)
            if f is not None and f.nullable is False:
                yield (
                    f"{node.address}.{path}: detaching sets it to NULL, but the column is "
                    "NOT NULL (use on_parent_erase: delete, or allow NULL)"
                )
        if node.action == "mask":
            yield from _mask_problems(node, policy, referenced)
            yield from _masked_key_names(datamap, node, policy)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def _masked_key_names(datamap: DataMap, node: PlanNode, policy: str) -> Iterable[str]:
    """A redis key named after the subject (`session:{email}`) keeps the name when its value
    is masked: only deleting the key erases it."""
    system = datamap.system_for(node.dataset)
    if system is None or system.connector != "redis":
        return
    spec = (system.config.get("collections") or {}).get(node.collection) or {}
    template = spec.get("key", "") if isinstance(spec, Mapping) else ""
    personal = {i.field for i in node.identity_inputs} | {t.path for t in node.targets}
    named = sorted(set(_PLACEHOLDER.findall(str(template))) & personal)
    if named:
        yield (
            f"{node.address}: policy {policy} masks it, but its redis key names hold "
            f"{', '.join(named)}, which masking leaves in place "
            "(set fides_meta.rightsflow.erasure: delete on the collection)"
        )


def _mask_problems(
    node: PlanNode, policy: str, referenced: Mapping[str, list[str]]
) -> Iterable[str]:
    for target in node.targets:
        where = f"{node.address}.{target.path}"
        for problem in constraint_problems(target.mask_rule(), target.mask_context()):
            yield f"policy {policy}: {where}: {problem}"
        for other in referenced.get(where, ()):
            yield (
                f"{where}: policy {policy} masks it, but {other} references it "
                "(a foreign key would refuse or orphan the change)"
            )


def _referenced_fields(datamap: DataMap) -> dict[str, list[str]]:
    """Field address -> the fields (of other rows) whose references point at it, and back."""
    out: dict[str, list[str]] = {}
    for c in datamap.collections():
        for f in c.fields:
            here = f"{c.address}.{f.path}"
            for ref in f.references:
                there = str(ref.target)
                out.setdefault(there, []).append(here)
                out.setdefault(here, []).append(there)
    return out


def _awaiting_review(datamap: DataMap) -> Iterable[str]:
    pending = [f"{c.address}.{f.path}" for c in datamap.collections() for f in c.fields if f.review]
    if pending:
        shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
        yield (
            f"{len(pending)} field(s) carry introspection suggestions awaiting review "
            f"(remove `review` once confirmed): {shown}"
        )
