"""Erase changes and the re-check, on hand-built plan nodes."""

from __future__ import annotations

import copy
import json
from typing import Any

from rightsflow.domain.connector import RowChange
from rightsflow.domain.masking import MaskContext, MaskKeys, masked_value
from rightsflow.domain.plan import PlanNode, TargetField
from rightsflow.domain.policy import MaskRule, MaskStrategy
from rightsflow.services.erasure import key_of, masked_row
from rightsflow.services.writes import WriteContext, changes_for, remaining_rows

KEY = b"platform-masking-key-of-32-bytes"
KEYS = MaskKeys(hash_key=KEY, encrypt_key=KEY)
CTX = WriteContext(KEYS)
EMAIL = TargetField("email", ("user.contact.email",), MaskStrategy.NULL)
NAME = TargetField("name", ("user.name",), MaskStrategy.FIXED, "MASKED")
CITY = TargetField("profile.address.city", ("user.contact.address.city",), MaskStrategy.NULL)
NICK = TargetField("profile.nickname", ("user.name",), MaskStrategy.FIXED, "MASKED", length=3)
PHONE = TargetField("phone", ("user.contact.phone_number",), MaskStrategy.HASH)


def _node(*targets: TargetField, action: str = "mask") -> PlanNode:
    return PlanNode(
        address="shop:customers",
        system="shop",
        connector="sql",
        wave=0,
        primary_key=("id",),
        identity_inputs=(),
        edge_inputs=(),
        targets=targets,
        fetch_fields=tuple(sorted({"id", *(t.path.split(".")[0] for t in targets)})),
        action=action,
    )


def test_mask_changes_only_targeted_non_null_fields() -> None:
    node = _node(EMAIL, NAME)
    rows = [
        {"id": 1, "email": "a@example.com", "name": "Ada"},
        {"id": 2, "email": None, "name": "Alan"},
        {"id": 3, "email": None, "name": None},
    ]
    assert changes_for(node, rows, CTX) == [
        RowChange(key={"id": 1}, values={"email": None, "name": "MASKED"}),
        RowChange(key={"id": 2}, values={"name": "MASKED"}),
    ]


def test_hash_strategy_uses_the_platform_key() -> None:
    node = _node(PHONE)
    (change,) = changes_for(node, [{"id": 7, "phone": "+44 7700 900123"}], CTX)
    rule = MaskRule(category="user.contact.phone_number", strategy=MaskStrategy.HASH)
    keys = MaskKeys(hash_key=KEY, encrypt_key=KEY)
    expected = masked_value(
        rule, "+44 7700 900123", context=MaskContext(), keys=keys, salt=b"any: hash is unsalted"
    )
    assert change.values == {"phone": expected}
    assert change.values["phone"] != "+44 7700 900123"
    (other,) = changes_for(
        node,
        [{"id": 7, "phone": "+44 7700 900123"}],
        WriteContext(MaskKeys(b"another-key".ljust(32), KEY)),
    )
    assert other.values != change.values


def test_salted_strategies_differ_per_row_and_repeat_per_retry() -> None:
    """random/encrypt/unique suffixes are salted by collection, primary key and field path."""
    node = _node(TargetField("phone", ("user.contact.phone_number",), MaskStrategy.RANDOM))
    rows = [{"id": 1, "phone": "+1 555 0100"}, {"id": 2, "phone": "+1 555 0100"}]
    first = changes_for(node, rows, CTX)
    assert first == changes_for(node, rows, CTX)  # a retry writes the same values
    assert first[0].values != first[1].values
    other = PlanNode(**{**node.__dict__, "address": "shop:archive"})
    assert changes_for(other, rows, CTX)[0].values != first[0].values


def test_composite_keys() -> None:
    node = _node(EMAIL)
    node = PlanNode(**{**node.__dict__, "primary_key": ("tenant", "id")})
    assert key_of(node, {"tenant": "t1", "id": 5, "email": "x@y.z"}) == {"tenant": "t1", "id": 5}
    (change,) = changes_for(node, [{"tenant": "t1", "id": 5, "email": "x@y.z"}], CTX)
    assert change.key == {"tenant": "t1", "id": 5}


def _profile() -> dict[str, Any]:
    return {"nickname": "Ace", "address": {"city": "Oslo", "zip": "0150"}, "lang": "no"}


def test_nested_fields_in_a_dict_value() -> None:
    row = {"id": 1, "profile": _profile()}
    before = copy.deepcopy(row)
    values = masked_row(_node(CITY, NICK), row, KEYS)
    assert values == {
        "profile": {"nickname": "MAS", "address": {"city": None, "zip": "0150"}, "lang": "no"}
    }
    assert row == before  # the retrieved row is not modified


def test_nested_fields_in_a_json_string_value() -> None:
    row = {"id": 1, "profile": json.dumps(_profile())}
    values = masked_row(_node(CITY, NICK), row, KEYS)
    assert isinstance(values["profile"], str)
    assert json.loads(values["profile"]) == {
        "nickname": "MAS",
        "address": {"city": None, "zip": "0150"},
        "lang": "no",
    }


def test_nested_nothing_to_mask() -> None:
    node = _node(CITY, NICK)
    rows = [
        {"id": 1, "profile": None},
        {"id": 2, "profile": {"lang": "en"}},
        {"id": 3, "profile": {"nickname": None, "address": {"city": None}}},
        {"id": 4, "profile": {"address": "not an object"}},
        {"id": 5, "profile": json.dumps({"address": {"zip": "1"}})},
    ]
    assert changes_for(node, rows, CTX) == []


def test_nested_target_over_text_that_is_not_json() -> None:
    """Like any other value that is not an object (see above): nothing to mask, no crash."""
    node = _node(CITY)
    assert changes_for(node, [{"id": 1, "profile": "Oslo"}, {"id": 2, "profile": ""}], CTX) == []
    assert remaining_rows(node, [], [{"id": 1, "profile": "Oslo"}], CTX) == 0


def test_nested_one_of_two_paths_present() -> None:
    node = _node(CITY, NICK)
    (change,) = changes_for(node, [{"id": 1, "profile": {"address": {"city": "Rome"}}}], CTX)
    assert change.values == {"profile": {"address": {"city": None}}}


def test_remaining_after_a_complete_mask_is_zero() -> None:
    node = _node(EMAIL, NAME, PHONE)
    before = [
        {"id": 1, "email": "a@example.com", "name": "Ada", "phone": "+1 555 0100"},
        {"id": 2, "email": "b@example.com", "name": None, "phone": None},
    ]
    after = [{**r, **masked_row(node, r, KEYS)} for r in before]
    assert after[0]["phone"] != "+1 555 0100"
    assert remaining_rows(node, before, after, CTX) == 0


def test_remaining_counts_rows_still_holding_data() -> None:
    node = _node(EMAIL, NAME)
    before = [
        {"id": 1, "email": "a@example.com", "name": "Ada"},
        {"id": 2, "email": "b@example.com", "name": "Bo"},
    ]
    now = [
        {"id": 1, "email": None, "name": "MASKED"},  # erased
        {"id": 2, "email": None, "name": "Bo"},  # name was not overwritten
    ]
    assert remaining_rows(node, before, now, CTX) == 1


def test_a_row_added_after_retrieval_counts_as_remaining() -> None:
    node = _node(EMAIL, NAME)
    before = [{"id": 1, "email": "a@example.com", "name": "Ada"}]
    now = [
        {"id": 1, "email": None, "name": "MASKED"},
        {"id": 9, "email": "new@example.com", "name": "Newcomer"},
    ]
    assert remaining_rows(node, before, now, CTX) == 1
    # ... unless it holds nothing the erasure would change.
    quiet = [now[0], {"id": 9, "email": None, "name": "MASKED"}]
    assert remaining_rows(node, before, quiet, CTX) == 0


def test_remaining_for_nested_json_in_either_form() -> None:
    node = _node(CITY, NICK)
    before = [{"id": 1, "profile": _profile()}, {"id": 2, "profile": json.dumps(_profile())}]
    erased = [{**r, **masked_row(node, r, KEYS)} for r in before]
    assert remaining_rows(node, before, erased, CTX) == 0
    # The store may hand back a JSON column as text or as an object.
    swapped = [
        {"id": 1, "profile": json.dumps(erased[0]["profile"])},
        {"id": 2, "profile": json.loads(erased[1]["profile"])},
    ]
    assert remaining_rows(node, before, swapped, CTX) == 0
    assert remaining_rows(node, before, before, CTX) == 2


def test_delete_action() -> None:
    node = _node(EMAIL, action="delete")
    before = [{"id": 1, "email": "a@example.com"}, {"id": 2, "email": "b@example.com"}]
    assert remaining_rows(node, before, [], CTX) == 0
    assert remaining_rows(node, before, [before[1]], CTX) == 1
    # Even a row whose targeted fields are already empty is still there: delete removes rows.
    assert remaining_rows(node, before, [{"id": 2, "email": None}], CTX) == 1
