"""The re-check of many requests at once: per collection, one read by key and one by lookup
for all of them, each row routed back to the requests it belongs to, each request judged
against what it wrote. A read that fails for the batch is tried again request by request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rightsflow.domain.connector import Row, Scalar
from rightsflow.domain.errors import ConnectorFailure, RightsflowError
from rightsflow.domain.plan import PlanNode
from rightsflow.services.coalesced_reads import Step
from rightsflow.services.erasure import key_of
from rightsflow.services.execution import load_plan, rows_found
from rightsflow.services.lookups import Lookup, lookup_for, normalised
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult
from rightsflow.services.row_routing import RowRouter
from rightsflow.services.write_steps import context, dedupe, left_behind, recheck_node
from rightsflow.services.writes import WriteContext, remaining_rows

# A step's problem ("" when its rows hold what was written), or its own failure.
Problem = str | BaseException


@dataclass
class _Check:
    index: int
    step: Step
    node: PlanNode
    lookup: Lookup
    before: list[Row]
    ctx: WriteContext

    def row_keys(self) -> list[dict[str, Scalar]]:
        return [key_of(self.node, r) for r in self.before]


def recheck_many(platform: Platform, steps: Sequence[Step]) -> list[Problem]:
    """Re-check every (request, collection) given; one problem (or "") per step."""
    outcomes: list[Problem | None] = [None] * len(steps)
    groups: dict[PlanNode, list[_Check]] = {}
    for index, step in enumerate(steps):
        try:
            check = _check(platform, index, step)
        except RightsflowError as exc:
            outcomes[index] = exc
            continue
        groups.setdefault(check.node, []).append(check)
    for group in groups.values():
        try:
            together = _together(platform, group)
        except ConnectorFailure:
            checked = [_alone(platform, c) for c in group]
        else:
            checked = together
        _record(platform, group, checked, outcomes)
    return [o if o is not None else RuntimeError("step not run") for o in outcomes]


def _check(platform: Platform, index: int, step: Step) -> _Check:
    plan = load_plan(platform, step.request_id)
    node = plan.node(step.address)
    with platform.uow() as uow:
        lookup = lookup_for(platform, uow, step.request_id, plan, node)
    before = rows_found(platform, step.request_id, step.address)
    return _Check(index, step, node, lookup, before, context(platform, step.request_id))


# Rows still not as written, and rows read again (None: the step recorded its result itself).
Checked = tuple[int, int | None] | BaseException


def _together(platform: Platform, group: list[_Check]) -> list[Checked]:
    node = group[0].node
    connector = platform.connectors.for_system(node.system)
    owners: dict[tuple[str, ...], list[int]] = {}
    keys: list[dict[str, Scalar]] = []  # one per row to fetch, in the values it held
    for position, check in enumerate(group):
        for key in check.row_keys():
            normal = _normal(node, key)
            if normal not in owners:
                keys.append(key)
            owners.setdefault(normal, []).append(position)
    router: RowRouter[int] = RowRouter()
    for position, check in enumerate(group):
        router.add(position, check.lookup)
    now: list[list[Row]] = [[] for _ in group]
    for row in connector.fetch_by_keys(node, keys):
        for position in owners.get(_normal(node, key_of(node, row)), ()):
            now[position].append(row)
    for row in connector.retrieve(node, router.values()):
        for position in router.route(row):  # composite references: whole tuples only
            now[position].append(row)
    out: list[Checked] = []
    for check, rows in zip(group, now, strict=True):
        again = dedupe(node, rows)
        out.append((remaining_rows(node, check.before, again, check.ctx), len(again)))
    return out


def _normal(node: PlanNode, key: dict[str, Scalar]) -> tuple[str, ...]:
    return tuple(normalised(key.get(name)) for name in node.primary_key)


def _alone(platform: Platform, check: _Check) -> Checked:
    try:
        return recheck_node(platform, check.step.request_id, check.step.address), None
    except Exception as exc:  # handed to the step's own caller
        return exc


def _record(
    platform: Platform,
    group: list[_Check],
    checked: list[Checked],
    outcomes: list[Problem | None],
) -> None:
    now = platform.clock()
    with platform.uow() as uow:
        for check, result in zip(group, checked, strict=True):
            if isinstance(result, BaseException):
                outcomes[check.index] = result
                continue
            step, (left, found) = check.step, result
            if found is not None:
                uow.results.put(
                    NodeResult(
                        step.request_id, step.address, "recheck", rows_found=found,
                        remaining=left, status="done" if left == 0 else "failed", updated_at=now,
                    )
                )  # fmt: skip
            problem = left_behind(check.node.action, left) if left else ""
            outcomes[check.index] = f"{step.address}: {problem}" if problem else ""
        uow.commit()
