"""What a changing request writes to each row, and how a re-read is judged. Pure functions.

One rule for every action: `wanted(node, row)` gives the values the row's top-level fields
must end up with (masked targets and detached references for erasure, the flag for
restriction, the new values for rectification). The erase step writes them; the re-check
counts rows that still differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from rightsflow.domain.connector import Row, RowChange
from rightsflow.domain.masking import MaskKeys
from rightsflow.domain.plan import PlanNode
from rightsflow.domain.rectification import Correction
from rightsflow.services.erasure import holds, key_of, masked_row


@dataclass(frozen=True)
class WriteContext:
    secrets: MaskKeys
    corrections: Mapping[str, Correction] = field(default_factory=dict)

    def corrections_for(self, node: PlanNode) -> dict[str, Correction]:
        prefix = f"{node.address}."
        return {
            address.removeprefix(prefix): value
            for address, value in self.corrections.items()
            if address.startswith(prefix)
        }


def wanted(node: PlanNode, row: Row, ctx: WriteContext) -> dict[str, Any]:
    """The values this row's fields must hold once the request's write is done."""
    if node.action == "restrict" and node.restriction is not None:
        return {node.restriction.field: node.restriction.value}
    if node.action == "rectify":
        return dict(ctx.corrections_for(node))
    out: dict[str, Any] = {}
    if node.action == "mask":
        out.update(masked_row(node, row, ctx.secrets))
    out.update(dict.fromkeys(node.detach))
    return out


def changes_for(node: PlanNode, rows: Sequence[Row], ctx: WriteContext) -> list[RowChange]:
    """One guarded change per row that does not already hold what it must."""
    changes = []
    for row in rows:
        values = {k: v for k, v in wanted(node, row, ctx).items() if not same(row.get(k), v)}
        if values:
            changes.append(RowChange(key=key_of(node, row), values=values))
    return changes


def remaining_rows(
    node: PlanNode, before: Sequence[Row], now: Sequence[Row], ctx: WriteContext
) -> int:
    """How many rows, read again, still do not hold what the request wrote."""
    if node.action == "delete":
        return len(now)
    originals = {tuple(key_of(node, r).values()): r for r in before}
    left = 0
    for row in now:
        original = originals.get(tuple(key_of(node, row).values()))
        # Judge a row against what it held when read; a field that was empty then but holds
        # a value now (or a row added since) is judged by what it holds now.
        basis = dict(row) if original is None else _filled(original, row)
        if holds(row, wanted(node, basis, ctx), same):
            left += 1
    return left


def _filled(original: Row, now: Row) -> Row:
    return {k: now.get(k) if v is None else v for k, v in {**now, **original}.items()}


def same(current: object, target: object) -> bool:
    """Equal as stored values: 1 and True, "193.950" and 193.95 (rows pass through JSON)."""
    if current == target:
        return True
    if current is None or target is None or isinstance(current, dict | list):
        return False
    try:
        return Decimal(str(current)) == Decimal(str(target))
    except InvalidOperation:
        return str(current) == str(target)
