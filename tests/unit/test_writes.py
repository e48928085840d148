"""What restriction, rectification and detaching write, and how the re-check judges rows."""

from __future__ import annotations

from rightsflow.domain.connector import RowChange
from rightsflow.domain.datamap import RestrictionFlag
from rightsflow.domain.masking import MaskKeys
from rightsflow.domain.plan import PlanNode, TargetField
from rightsflow.domain.policy import MaskStrategy
from rightsflow.services.writes import WriteContext, changes_for, remaining_rows, same

KEYS = MaskKeys(hash_key=b"k" * 32, encrypt_key=b"e" * 32)


def _node(action: str, **extra: object) -> PlanNode:
    base = {
        "address": "d:people",
        "system": "s",
        "connector": "sql",
        "wave": 0,
        "primary_key": ("id",),
        "identity_inputs": (),
        "edge_inputs": (),
        "targets": (),
        "fetch_fields": ("id",),
        "action": action,
    }
    return PlanNode(**{**base, **extra})  # type: ignore[arg-type]


def test_restriction_sets_the_flag_once() -> None:
    node = _node("restrict", restriction=RestrictionFlag("restricted", 1))
    rows = [{"id": 1, "restricted": 0}, {"id": 2, "restricted": 1}]
    ctx = WriteContext(KEYS)
    assert changes_for(node, rows, ctx) == [RowChange({"id": 1}, {"restricted": 1})]
    assert remaining_rows(node, rows, rows, ctx) == 1
    assert remaining_rows(node, rows, [{"id": 1, "restricted": True}, rows[1]], ctx) == 0


def test_rectification_writes_only_this_collections_corrections() -> None:
    node = _node("rectify", targets=(TargetField("name", ("user.name",)),))
    ctx = WriteContext(KEYS, {"d:people.name": "Ada", "d:other.name": "Bob"})
    rows = [{"id": 1, "name": "Ava"}]
    assert changes_for(node, rows, ctx) == [RowChange({"id": 1}, {"name": "Ada"})]
    assert remaining_rows(node, rows, [{"id": 1, "name": "Ada"}], ctx) == 0
    assert remaining_rows(node, rows, rows, ctx) == 1


def test_detach_nulls_references_even_in_kept_rows() -> None:
    node = _node("keep", detach=("person_id",))
    rows = [{"id": 1, "person_id": 7}, {"id": 2, "person_id": None}]
    ctx = WriteContext(KEYS)
    assert changes_for(node, rows, ctx) == [RowChange({"id": 1}, {"person_id": None})]


def test_a_field_set_after_it_was_read_empty_counts_as_left() -> None:
    email = TargetField("email", ("user.contact.email",), MaskStrategy.NULL)
    node = _node("mask", targets=(email,))
    before = [{"id": 1, "email": None}]
    now = [{"id": 1, "email": "new@example.com"}]
    assert remaining_rows(node, before, now, WriteContext(KEYS)) == 1


def test_values_compare_as_stored() -> None:
    assert same("193.950", 193.95)
    assert same(1, True)
    assert not same(None, 0)
    assert not same("a", "b")
