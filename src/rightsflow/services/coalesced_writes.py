"""The erase step of many requests at once: one write per collection for all of them.

Only where the connector can say which rows a write changed (`KeyedWrites`, e.g. SQL with
RETURNING) is the write merged: each request is then credited with exactly the rows that were
its own. Elsewhere, and whenever the merged write fails, each request is written alone, so one
subject's failure never fails the others. Results and audit events of the batch are written in
one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from rightsflow.domain.connector import KeyedWrites, KeyTuple, RowChange, Scalar
from rightsflow.domain.errors import ConnectorFailure, RightsflowError
from rightsflow.domain.masking import CannotMask
from rightsflow.domain.plan import PlanNode
from rightsflow.services import audit
from rightsflow.services.coalesced_reads import Outcome, Step
from rightsflow.services.erasure import key_of
from rightsflow.services.execution import executing_plan, rows_found
from rightsflow.services.lookups import normalised
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult
from rightsflow.services.write_steps import context, erase
from rightsflow.services.writes import changes_for

T = TypeVar("T")


@dataclass
class _Writer:
    """One request's share of a merged write."""

    index: int
    step: Step
    node: PlanNode
    found: int
    keys: list[dict[str, Scalar]] = field(default_factory=list)  # delete
    changes: list[RowChange] = field(default_factory=list)  # mask and the other writes
    changed: int = 0


def erase_many(platform: Platform, steps: Sequence[Step]) -> list[Outcome]:
    """Run the erase step of every (request, collection) given; one outcome per step."""
    outcomes: list[Outcome | None] = [None] * len(steps)
    merged: dict[PlanNode, list[_Writer]] = {}
    for index, step in enumerate(steps):
        try:
            writer = _writer(platform, index, step)
        except RightsflowError as exc:
            outcomes[index] = exc
            continue
        if isinstance(writer, int):
            outcomes[index] = writer
        elif _mergeable(platform, writer.node):
            merged.setdefault(writer.node, []).append(writer)
        else:
            outcomes[index] = _alone(platform, step)
    for group in merged.values():
        try:
            _write_together(platform, group)
        except ConnectorFailure:
            for writer in group:
                outcomes[writer.index] = _alone(platform, writer.step)
            continue
        _finish(platform, group)
        for writer in group:
            outcomes[writer.index] = len(writer.keys) + len(writer.changes)
    return [o if o is not None else RuntimeError("step not run") for o in outcomes]


def _writer(platform: Platform, index: int, step: Step) -> _Writer | int:
    with platform.uow() as uow:
        node = executing_plan(uow, step.request_id).node(step.address)
        done = uow.results.get(step.request_id, step.address, "erase")
        if done is not None and done.status == "done":
            return done.rows_masked + done.rows_deleted
    rows = rows_found(platform, step.request_id, step.address)
    writer = _Writer(index, step, node, found=len(rows))
    if node.action == "delete":
        writer.keys = [key_of(node, r) for r in rows]
        return writer
    try:
        writer.changes = changes_for(node, rows, context(platform, step.request_id))
    except CannotMask as exc:  # the rule cannot fit a value here: say where
        raise CannotMask(f"{step.address}: {exc}") from None
    return writer


def _mergeable(platform: Platform, node: PlanNode) -> bool:
    connector = platform.connectors.for_system(node.system)
    return isinstance(connector, KeyedWrites) and connector.writes_return_keys()


def _write_together(platform: Platform, group: list[_Writer]) -> None:
    node = group[0].node
    connector = platform.connectors.for_system(node.system)
    assert isinstance(connector, KeyedWrites)  # noqa: S101 - checked by _mergeable
    if node.action == "delete":
        keys = _distinct([k for w in group for k in w.keys], node, lambda key: key)
        changed = connector.delete_returning(node, keys)
    else:
        changes = _distinct(
            [c for w in group for c in w.changes], node, lambda change: dict(change.key)
        )
        changed = connector.mask_returning(node, changes)
    written = {_normal(key) for key in changed}
    for writer in group:
        mine = writer.keys or [dict(c.key) for c in writer.changes]
        writer.changed = sum(_normal(_ordered(node, k)) in written for k in mine)


def _ordered(node: PlanNode, key: dict[str, Scalar]) -> KeyTuple:
    return tuple(key[name] for name in node.primary_key)


def _normal(key: KeyTuple) -> tuple[str, ...]:
    return tuple(normalised(value) for value in key)


def _distinct(items: list[T], node: PlanNode, key: Callable[[T], dict[str, Scalar]]) -> list[T]:
    """A row two requests share (the same subject asked twice) is written once."""
    seen: dict[tuple[str, ...], T] = {}
    for item in items:
        seen.setdefault(_normal(_ordered(node, key(item))), item)
    return list(seen.values())


def _finish(platform: Platform, group: list[_Writer]) -> None:
    now = platform.clock()
    with platform.uow() as uow:
        for w in group:
            result = NodeResult(w.step.request_id, w.step.address, "erase", rows_found=w.found)
            result.rows_deleted, result.rows_masked = len(w.keys), len(w.changes)
            result.rows_changed, result.updated_at = w.changed, now
            uow.results.put(result)
            audit.record(
                uow,
                w.step.request_id,
                "node.written",
                now,
                address=w.step.address,
                write=w.node.action,
                masked=result.rows_masked,
                deleted=result.rows_deleted,
                changed=result.rows_changed,
                batch=len(group),
            )
        uow.commit()


def _alone(platform: Platform, step: Step) -> Outcome:
    try:
        return erase(platform, step.request_id, step.address)
    except Exception as exc:  # handed to the step's own caller
        return exc
