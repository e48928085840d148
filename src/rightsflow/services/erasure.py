"""Turn retrieved rows into erase changes, and judge a re-read. Pure functions."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rightsflow.domain.connector import Row, RowChange, Scalar
from rightsflow.domain.masking import MaskContext, MaskKeys, masked_value
from rightsflow.domain.plan import PlanNode, TargetField
from rightsflow.domain.policy import MaskRule, MaskStrategy


def key_of(node: PlanNode, row: Row) -> dict[str, Scalar]:
    return {k: row[k] for k in node.primary_key}


def _rule(target: TargetField) -> MaskRule:
    return MaskRule(
        category=target.categories[0] if target.categories else "user",
        strategy=target.strategy or MaskStrategy.NULL,
        value=target.value,
    )


def _mask(node: PlanNode, row: Row, target: TargetField, value: object, key: bytes) -> object:
    # The salt is request-independent and stable across retries (collection, primary key,
    # field path), so a retried erase writes the same values and rows never share one.
    salt = json.dumps([node.address, list(key_of(node, row).values()), target.path], default=str)
    return masked_value(
        _rule(target),
        value,
        context=MaskContext(length=target.length),
        keys=MaskKeys(hash_key=key, encrypt_key=key),  # one platform key until a second is wired
        salt=salt.encode(),
    )


def masked_row(node: PlanNode, row: Row, key: bytes) -> dict[str, Any]:
    """The new values of the row's top-level fields that erasure changes (nested fields
    rewrite their whole top-level JSON value)."""
    out: dict[str, Any] = {}
    for target in node.targets:
        top, _, rest = target.path.partition(".")
        if not rest:
            if row.get(top) is not None:
                out[top] = _mask(node, row, target, row[top], key)
            continue
        container = out.get(top, row.get(top))
        as_text = isinstance(container, str)
        doc = _json_object(container)
        mask = functools.partial(_mask, node, row, target, key=key)
        if isinstance(doc, dict) and _mask_path(doc, rest.split("."), mask):
            out[top] = json.dumps(doc, sort_keys=True) if as_text else doc
    return out


def _json_object(value: Any) -> Any:
    """A nested field's container: parsed JSON text, or a copy; None when it is neither."""
    if not isinstance(value, str):
        return copy.deepcopy(value)
    try:
        return json.loads(value)
    except ValueError:
        return None  # not JSON: nothing nested to mask (the error would quote the value)


def _mask_path(doc: dict[str, Any], path: list[str], mask: Callable[[object], object]) -> bool:
    head, *tail = path
    if head not in doc:
        return False
    if tail:
        inner = doc[head]
        return isinstance(inner, dict) and _mask_path(inner, tail, mask)
    if doc[head] is None:
        return False
    doc[head] = mask(doc[head])
    return True


def changes_for(node: PlanNode, rows: Sequence[Row], key: bytes) -> list[RowChange]:
    changes = []
    for row in rows:
        values = masked_row(node, row, key)
        if values:
            changes.append(RowChange(key=key_of(node, row), values=values))
    return changes


def remaining_rows(node: PlanNode, before: Sequence[Row], now: Sequence[Row], key: bytes) -> int:
    """How many rows still hold a targeted value that erasure should have removed."""
    if node.action == "delete":
        return len(now)
    originals = {tuple(key_of(node, r).values()): r for r in before}
    left = 0
    for row in now:
        original = originals.get(tuple(key_of(node, row).values()))
        # A row we never saw (added since) must be judged against itself.
        expected = masked_row(node, original if original is not None else row, key)
        if not _holds(row, expected):
            continue
        left += 1
    return left


def _holds(row: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    """True when a field the erasure changes still differs from its erased form."""
    for field, wanted in expected.items():
        current, erased = row.get(field), wanted
        if isinstance(current, str) and isinstance(erased, dict | list):
            current = json.loads(current)
        if isinstance(erased, str) and isinstance(current, dict | list):
            erased = json.loads(erased)
        if current != erased:
            return True
    return False
