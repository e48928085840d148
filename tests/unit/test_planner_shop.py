"""The planner on the packaged shop data map: exact waves, erase order and gaps."""

from __future__ import annotations

import pytest
import yaml

from rightsflow.domain.datamap import DataMap
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.plan import Edge, IdentityInput
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import (
    DEFAULT_ACCESS,
    DEFAULT_ERASURE,
    MaskRule,
    MaskStrategy,
    Policy,
)
from rightsflow.domain.requests import RequestType
from rightsflow.sample.shop import shop_dataset_yaml

SYSTEMS = """\
systems:
  - key: shop
    connector: sql
    datasets: [shop]
    config:
      url: sqlite:////tmp/x.db
"""
IDENTITY_HOLDERS = ("shop:customers", "shop:login_events", "shop:support_tickets")
CHILDREN_OF_CUSTOMERS = ("shop:addresses", "shop:orders", "shop:payment_cards")


def _shop(*extra_collections: dict[str, object]) -> DataMap:
    doc = yaml.safe_load(shop_dataset_yaml())
    doc["dataset"][0]["collections"].extend(extra_collections)
    return parse_datamap({"shop.yml": yaml.safe_dump(doc), "systems.yml": SYSTEMS}, env={})


@pytest.fixture(scope="module")
def shop() -> DataMap:
    return _shop()


def test_access_waves_follow_the_foreign_keys(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ACCESS, ["email"])
    assert plan.waves == (IDENTITY_HOLDERS, CHILDREN_OF_CUSTOMERS, ("shop:order_items",))
    assert plan.erase_order == ()
    assert plan.skipped == ()
    assert {n.action for n in plan.nodes} == {"return"}
    assert {n.system for n in plan.nodes} == {"shop"}
    assert {n.connector for n in plan.nodes} == {"sql"}


def test_access_inputs(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ACCESS, ["email"])
    assert plan.node("shop:customers").identity_inputs == (IdentityInput("email", "email"),)
    assert plan.node("shop:login_events").identity_inputs == (
        IdentityInput("email", "customer_email"),
    )
    assert plan.node("shop:customers").edge_inputs == ()
    assert plan.node("shop:orders").edge_inputs == (
        Edge("shop:customers", "id", "shop:orders", "customer_id"),
    )
    assert plan.node("shop:order_items").edge_inputs == (
        Edge("shop:orders", "id", "shop:order_items", "order_id"),
    )


def test_access_fetch_fields_and_targets(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ACCESS, ["email"])
    customers = plan.node("shop:customers")
    assert customers.fetch_fields == ("email", "id", "name", "phone")
    # created_at is system.operations: not personal data, not returned.
    assert {t.path for t in customers.targets} == {"id", "email", "name", "phone"}
    assert plan.node("shop:orders").fetch_fields == ("created_at", "customer_id", "id", "total")
    assert plan.node("shop:order_items").fetch_fields == ("id", "order_id", "qty", "sku")
    assert plan.node("shop:login_events").fetch_fields == ("customer_email", "id", "ip")
    assert all(t.strategy is None for n in plan.nodes for t in n.targets)


def test_erasure_keeps_purchase_history(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ERASURE, ["email"])
    assert plan.waves == (IDENTITY_HOLDERS, ("shop:addresses", "shop:payment_cards"))
    skipped = {s.address: s for s in plan.skipped}
    assert set(skipped) == {"shop:orders", "shop:order_items"}
    for s in skipped.values():
        assert s.reason == "reachable, but holds no targeted data categories"
        assert not s.holds_targeted_data
    assert plan.unreachable == ()
    assert {n.action for n in plan.nodes} == {"mask"}


def test_erase_order_children_first(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ERASURE, ["email"])
    assert plan.erase_order == (
        ("shop:addresses", "shop:login_events", "shop:payment_cards", "shop:support_tickets"),
        ("shop:customers",),
    )
    assert plan.notes == ()


def test_erasure_targets_and_strategies(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ERASURE, ["email"])
    customers = plan.node("shop:customers")
    strategies = {t.path: (t.strategy, t.value) for t in customers.targets}
    assert strategies == {
        "email": (MaskStrategy.NULL, None),
        "name": (MaskStrategy.FIXED, "MASKED"),
        "phone": (MaskStrategy.NULL, None),
    }
    assert customers.fetch_fields == ("email", "id", "name", "phone")
    tickets = plan.node("shop:support_tickets")
    assert {t.path: t.strategy for t in tickets.targets} == {
        "customer_email": MaskStrategy.NULL,
        "body": MaskStrategy.FIXED,
    }
    cards = plan.node("shop:payment_cards")
    assert cards.fetch_fields == ("ccn_hash", "customer_id", "id", "last4")
    assert cards.edge_inputs == (Edge("shop:customers", "id", "shop:payment_cards", "customer_id"),)


def test_a_collection_without_a_path_is_unreachable() -> None:
    newsletter = {
        "name": "newsletter",
        "fields": [
            {"name": "id", "fides_meta": {"primary_key": True, "data_type": "integer"}},
            {"name": "subscriber", "data_categories": ["user.contact.email"]},
        ],
    }
    datamap = _shop(newsletter)
    for policy in (DEFAULT_ACCESS, DEFAULT_ERASURE):
        plan = plan_request(datamap, policy, ["email"])
        assert "shop:newsletter" not in {n.address for n in plan.nodes}
        (gap,) = plan.unreachable
        assert gap.address == "shop:newsletter"
        assert gap.holds_targeted_data
        assert "no identity field for email" in gap.reason
        assert "reference path" in gap.reason


def test_an_identity_no_collection_holds_reaches_nothing(shop: DataMap) -> None:
    plan = plan_request(shop, DEFAULT_ACCESS, ["phone_number"])
    assert plan.nodes == ()
    assert plan.waves == ()
    assert {s.address for s in plan.unreachable} == {c.address for c in shop.collections()}


def test_a_delete_policy_deletes_rows(shop: DataMap) -> None:
    policy = Policy(
        key="forget_contact",
        type=RequestType.ERASURE,
        targets=("user.contact.email",),
        masking=(MaskRule(category="user.contact.email", strategy=MaskStrategy.DELETE),),
    )
    plan = plan_request(shop, policy, ["email"])
    # Deleting customers deletes the rows that reference them (no `on_parent_erase: detach`),
    # down to order items, children first.
    assert plan.waves[0] == IDENTITY_HOLDERS
    assert {n.action for n in plan.nodes} == {"delete"}
    assert "shop:order_items" in plan.erase_order[0]
    assert "shop:orders" in plan.erase_order[1]
    assert plan.erase_order[-1] == ("shop:customers",)
    assert any("shop:orders: rows deleted with the shop:customers rows" in n for n in plan.notes)
    assert plan.policy_key == "forget_contact"
