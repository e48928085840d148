"""Erasure per collection: delete, mask, keep (exemption), cascades, detach, erase_after."""

from __future__ import annotations

import json

from rightsflow.domain.datamap import (
    Collection,
    DataField,
    DataMap,
    Dataset,
    Exemption,
    FieldAddress,
    Reference,
    RestrictionFlag,
    System,
)
from rightsflow.domain.plan import ExecutionPlan
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ERASURE, Policy, parse_policies
from rightsflow.domain.requests import RequestType

OPS = ("system.operations",)


def _key(name: str = "id") -> DataField:
    return DataField(name, OPS, primary_key=True)


def _ref(collection: str, field: str = "id") -> tuple[Reference, ...]:
    return (Reference(FieldAddress("d", collection, field), "from"),)


def _map(*collections: Collection) -> DataMap:
    return DataMap((System("s", "sql", ("d",)),), (Dataset("d", collections),))


def _customers(**extra: object) -> Collection:
    fields = (_key(), DataField("email", ("user.contact.email",), identity="email"))
    return Collection("d", "customers", fields, **extra)  # type: ignore[arg-type]


def _child(name: str, *more: DataField, **extra: object) -> Collection:
    fields = (_key(), DataField("customer_id", OPS, references=_ref("customers")), *more)
    return Collection("d", name, fields, **extra)  # type: ignore[arg-type]


DELETE_ALL = Policy(
    key="close_account",
    type=RequestType.ERASURE,
    targets=("user",),
    erasure_mode="delete",
)


def _actions(plan: ExecutionPlan) -> dict[str, str]:
    return {n.address: n.action for n in plan.nodes}


def test_unannotated_collections_get_the_policy_default() -> None:
    datamap = _map(_customers(), _child("notes", DataField("body", ("user.content.private",))))
    assert _actions(plan_request(datamap, DEFAULT_ERASURE, ["email"])) == {
        "d:customers": "mask",
        "d:notes": "mask",
    }
    assert _actions(plan_request(datamap, DELETE_ALL, ["email"])) == {
        "d:customers": "delete",
        "d:notes": "delete",
    }


def test_deleting_a_parent_deletes_rows_that_reference_it_even_without_targeted_data() -> None:
    orders = _child("orders", DataField("total", OPS))
    items = Collection(
        "d", "items", (_key(), DataField("order_id", OPS, references=_ref("orders")))
    )
    plan = plan_request(
        _map(_customers(erasure="delete"), orders, items), DEFAULT_ERASURE, ["email"]
    )
    assert _actions(plan) == {"d:customers": "delete", "d:orders": "delete", "d:items": "delete"}
    # children first: items, then orders, then customers
    assert plan.erase_order == (("d:items",), ("d:orders",), ("d:customers",))
    assert any("d:orders: rows deleted with the d:customers rows" in n for n in plan.notes)


def test_detach_sets_the_reference_null_instead_of_deleting() -> None:
    orders = _child("orders", DataField("total", OPS), on_parent_erase="detach")
    plan = plan_request(_map(_customers(erasure="delete"), orders), DEFAULT_ERASURE, ["email"])
    node = plan.node("d:orders")
    assert (node.action, node.detach) == ("read", ("customer_id",))
    assert node.erases
    assert plan.erase_order == (("d:orders",), ("d:customers",))


def test_an_exemption_keeps_rows_and_turns_the_parents_delete_into_a_mask() -> None:
    basis = Exemption("Tax law: invoices kept 10 years", "10 years")
    invoices = _child(
        "invoices", DataField("name", ("user.name",)), erasure="keep", exemption=basis
    )
    plan = plan_request(_map(_customers(erasure="delete"), invoices), DEFAULT_ERASURE, ["email"])
    assert _actions(plan) == {"d:customers": "mask", "d:invoices": "keep"}
    assert plan.node("d:invoices").exemption == basis
    assert not plan.node("d:invoices").erases
    assert any("masked instead of deleted" in n for n in plan.notes)


def test_a_kept_collection_that_detaches_lets_the_parent_be_deleted() -> None:
    basis = Exemption("Tax law")
    invoices = _child(
        "invoices",
        DataField("name", ("user.name",)),
        erasure="keep",
        exemption=basis,
        on_parent_erase="detach",
    )
    plan = plan_request(_map(_customers(erasure="delete"), invoices), DEFAULT_ERASURE, ["email"])
    assert _actions(plan) == {"d:customers": "delete", "d:invoices": "keep"}
    assert plan.node("d:invoices").detach == ("customer_id",)


def test_erase_after_overrides_the_reference_order() -> None:
    notes = _child("notes", DataField("body", ("user.content.private",)))
    customers = _customers(erase_after=("d:notes",))
    plan = plan_request(_map(customers, notes), DEFAULT_ERASURE, ["email"])
    assert plan.erase_order == (("d:notes",), ("d:customers",))
    flipped = _child(
        "notes", DataField("body", ("user.content.private",)), erase_after=("d:customers",)
    )
    plan = plan_request(_map(_customers(), flipped), DEFAULT_ERASURE, ["email"])
    assert plan.erase_order == (("d:customers",), ("d:notes",))


def test_a_collection_found_only_by_phone_is_planned_when_the_request_has_a_phone() -> None:
    sms = Collection(
        "d",
        "sms",
        (_key(), DataField("phone", ("user.contact.phone_number",), identity="phone_number")),
    )
    datamap = _map(_customers(), sms)
    by_email = plan_request(datamap, DEFAULT_ERASURE, ["email"])
    assert "d:sms" not in _actions(by_email)
    assert [s.address for s in by_email.unreachable] == ["d:sms"]
    both = plan_request(datamap, DEFAULT_ERASURE, ["email", "phone_number"])
    assert _actions(both)["d:sms"] == "mask"


def test_restriction_sets_the_declared_flag_and_reports_collections_without_one() -> None:
    base = _customers()
    flagged = Collection(
        "d",
        "customers",
        (*base.fields, DataField("restricted", OPS)),
        restriction=RestrictionFlag("restricted", True),
    )
    notes = _child("notes", DataField("body", ("user.content.private",)))
    policy = parse_policies(None)["default_restriction"]
    plan = plan_request(_map(flagged, notes), policy, ["email"])
    assert _actions(plan)["d:customers"] == "restrict"
    assert plan.node("d:customers").restriction == RestrictionFlag("restricted", True)
    assert "restricted" in plan.node("d:customers").fetch_fields
    assert [s.address for s in plan.unreachable] == ["d:notes"]


def test_rectification_plans_only_the_corrected_fields() -> None:
    notes = _child("notes", DataField("body", ("user.content.private",)))
    policy = parse_policies(None)["default_rectification"]
    plan = plan_request(_map(_customers(), notes), policy, ["email"], ["d:notes.body"])
    assert _actions(plan) == {"d:customers": "read", "d:notes": "rectify"}
    assert [t.path for t in plan.node("d:notes").targets] == ["body"]
    assert plan.erase_order == (("d:notes",),)


def test_plans_round_trip_through_json_with_the_new_members() -> None:
    basis = Exemption("Tax law", "10 years")
    invoices = _child(
        "invoices",
        DataField("name", ("user.name",)),
        erasure="keep",
        exemption=basis,
        on_parent_erase="detach",
    )
    plan = plan_request(_map(_customers(erasure="delete"), invoices), DEFAULT_ERASURE, ["email"])
    again = ExecutionPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
