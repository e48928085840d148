"""The steps of a request that changes rows: write each collection, then read it all again.

Each is idempotent: a result already recorded is returned as it is, and the connector's
guarded writes change a row at most once however often a step is retried.
"""

from __future__ import annotations

from collections.abc import Sequence

from rightsflow.domain.connector import Row, WriteOutcome, rows_written
from rightsflow.domain.masking import CannotMask
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.services import audit
from rightsflow.services.erasure import key_of, mask_keys
from rightsflow.services.execution import guarded, load_plan, rows_found
from rightsflow.services.lookups import Lookup, lookup_for
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult
from rightsflow.services.subject import open_subject
from rightsflow.services.writes import WriteContext, changes_for, remaining_rows

_LEFT = {
    "restrict": "row(s) are not marked restricted",
    "rectify": "row(s) do not hold the corrected values",
}


def left_behind(action: str, remaining: int) -> str:
    """What a re-check that found `remaining` rows not as written says (no personal data)."""
    return f"{remaining} {_LEFT.get(action, 'row(s) still hold targeted data')}"


def context(platform: Platform, request_id: str) -> WriteContext:
    with platform.uow() as uow:
        sealed = uow.requests.sealed_identities(request_id)
    subject = open_subject(platform.vault, request_id, sealed)
    return WriteContext(mask_keys(platform.vault.masking_key()), subject.corrections)


def erase(platform: Platform, request_id: str, address: str) -> int:
    """Write one collection (delete, mask, detach, restrict or rectify); returns rows written."""
    plan = load_plan(platform, request_id)
    node = plan.node(address)
    with platform.uow() as uow:
        done = uow.results.get(request_id, address, "erase")
        if done is not None and done.status == "done":
            return done.rows_masked + done.rows_deleted
    rows = rows_found(platform, request_id, address)
    connector = platform.connectors.for_system(node.system)
    result = NodeResult(request_id, address, "erase", rows_found=len(rows))
    if node.action == "delete":
        keys = [key_of(node, r) for r in rows]
        outcome = guarded(
            platform, request_id, address, "erase", lambda: connector.delete(node, keys)
        )
        result.rows_deleted = len(keys)
    else:
        try:
            changes = changes_for(node, rows, context(platform, request_id))
        except CannotMask as exc:  # the rule cannot fit a value here: say where
            raise CannotMask(f"{address}: {exc}") from None
        outcome = guarded(
            platform, request_id, address, "erase", lambda: connector.mask(node, changes)
        )
        result.rows_masked = len(changes)
    result.rows_changed = rows_written(outcome)
    if isinstance(outcome, WriteOutcome):
        result.evidence = {name: list(items) for name, items in outcome.evidence.items()}
    result.updated_at = platform.clock()
    with platform.uow() as uow:
        uow.results.put(result)
        audit.record(
            uow,
            request_id,
            "node.written",
            platform.clock(),
            address=address,
            write=node.action,
            masked=result.rows_masked,
            deleted=result.rows_deleted,
            changed=result.rows_changed,
        )
        uow.commit()
    return result.rows_masked + result.rows_deleted


def recheck(platform: Platform, request_id: str) -> list[str]:
    """Read again what was written; returns failure reasons naming collections (empty: verified)."""
    plan = load_plan(platform, request_id)
    ctx = context(platform, request_id)
    problems: list[str] = []
    for node in (n for n in plan.nodes if n.erases):
        if platform.connectors.answers_itself(node.system):
            continue  # re-checked by asking the system again (system_calls)
        remaining = _recheck_node(platform, request_id, plan, node, ctx)
        if remaining:
            problems.append(f"{node.address}: {left_behind(node.action, remaining)}")
    return problems


def recheck_node(platform: Platform, request_id: str, address: str) -> int:
    """Re-check one collection on its own (records its result); rows still not as written."""
    plan = load_plan(platform, request_id)
    return _recheck_node(
        platform, request_id, plan, plan.node(address), context(platform, request_id)
    )


def _recheck_node(
    platform: Platform, request_id: str, plan: ExecutionPlan, node: PlanNode, ctx: WriteContext
) -> int:
    with platform.uow() as uow:
        lookup: Lookup = lookup_for(platform, uow, request_id, plan, node)
    before = rows_found(platform, request_id, node.address)
    connector = platform.connectors.for_system(node.system)
    keys = [key_of(node, r) for r in before]
    now_rows: list[Row] = guarded(
        platform,
        request_id,
        node.address,
        "recheck",
        lambda: dedupe(
            node,
            connector.fetch_by_keys(node, keys)
            + lookup.only_matching(connector.retrieve(node, lookup.values)),
        ),
    )
    left = remaining_rows(node, before, now_rows, ctx)
    with platform.uow() as uow:
        uow.results.put(
            NodeResult(
                request_id,
                node.address,
                "recheck",
                rows_found=len(now_rows),
                remaining=left,
                status="done" if left == 0 else "failed",
                updated_at=platform.clock(),
            )
        )
        uow.commit()
    return left


def dedupe(node: PlanNode, rows: Sequence[Row]) -> list[Row]:
    seen: dict[tuple[object, ...], Row] = {}
    for row in rows:
        seen.setdefault(tuple(key_of(node, row).values()), row)
    return list(seen.values())
