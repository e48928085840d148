"""Masked values of a retrieved row, per the plan's targets. Pure functions."""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from rightsflow.domain.connector import Row, Scalar
from rightsflow.domain.masking import MaskContext, MaskKeys, masked_value
from rightsflow.domain.plan import PlanNode, TargetField
from rightsflow.domain.policy import MaskRule


def key_of(node: PlanNode, row: Row) -> dict[str, Scalar]:
    return {k: row[k] for k in node.primary_key}


def mask_keys(masking_key: bytes) -> MaskKeys:
    """The hash key is the platform's masking key; the pseudonymisation key derives from it."""
    encrypt_key = hmac.new(masking_key, b"rightsflow pseudonymisation v1", hashlib.sha256)
    return MaskKeys(hash_key=masking_key, encrypt_key=encrypt_key.digest())


def _mask(node: PlanNode, row: Row, target: TargetField, value: object, keys: MaskKeys) -> object:
    # The salt is request-independent and stable across retries (collection, primary key,
    # field path), so a retried erase writes the same values and rows never share one.
    salt = json.dumps([node.address, list(key_of(node, row).values()), target.path], default=str)
    rule, context = _rule_and_context(target)
    return masked_value(rule, value, context=context, keys=keys, salt=salt.encode())


@functools.lru_cache(maxsize=1024)
def _rule_and_context(target: TargetField) -> tuple[MaskRule, MaskContext]:
    """Built once per planned field, not once per row (a rule is validated when built)."""
    return target.mask_rule(), target.mask_context()


def masked_row(node: PlanNode, row: Row, key: MaskKeys) -> dict[str, Any]:
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
        mask = functools.partial(_mask, node, row, target, keys=key)
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


def holds(
    row: Mapping[str, Any], expected: Mapping[str, Any], same: Callable[[object, object], bool]
) -> bool:
    """True when a field the write changes still differs from what it should hold."""
    for field, wanted in expected.items():
        current, erased = row.get(field), wanted
        if isinstance(current, str) and isinstance(erased, dict | list):
            current = _json_object(current)
        if isinstance(erased, str) and isinstance(current, dict | list):
            erased = _json_object(erased)
        if not same(current, erased):
            return True
    return False
