"""Drafting a dataset from a schema, merging it into an edited map, and the change list."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
import yaml

from rightsflow.domain.datamap_draft import draft_document, dump_yaml
from rightsflow.domain.datamap_merge import merge_document
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.db_schema import DbColumn, DbForeignKey, DbSchema, DbTable
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import parse_policies

KEY = "shop"
SYSTEMS = (
    "systems:\n  - {key: shop, connector: sql, datasets: [shop], config: {url: 'sqlite:///x'}}\n"
)


def _pk(name: str, db_type: str = "INTEGER", *, alone: bool = True) -> DbColumn:
    return DbColumn(name, "integer", db_type, nullable=False, unique=alone, primary_key=True)


CUSTOMERS = DbTable(
    "customers",
    (
        _pk("id"),
        DbColumn("email", "string", "VARCHAR(255)", 255, nullable=False, unique=True),
        DbColumn("name", "string", "TEXT"),
        DbColumn("referred_by", "integer", "INTEGER"),
    ),
    (DbForeignKey(("referred_by",), "customers", ("id",)),),
)
ORDERS = DbTable(
    "orders",
    (
        _pk("id", "BIGINT"),
        DbColumn("customer_id", "integer", "INTEGER", nullable=False),
        DbColumn("contact_email", "string", "TEXT"),
        DbColumn("total", "float", "NUMERIC(10,2)", nullable=False),
    ),
    (DbForeignKey(("customer_id",), "customers", ("id",), "RESTRICT"),),
)
LINES = DbTable(
    "order_lines",
    (
        _pk("order_id", "BIGINT", alone=False),
        _pk("line_no", alone=False),
        DbColumn("sku", "string", "VARCHAR(64)", 64, nullable=False),
    ),
    (DbForeignKey(("order_id",), "orders", ("id",)),),
)
SHIPMENTS = DbTable(
    "shipments",
    (
        _pk("id"),
        DbColumn("order_id", "integer", "BIGINT", nullable=False),
        DbColumn("line_no", "integer", "INTEGER", nullable=False),
        DbColumn("tracking_code", "string", "VARCHAR(40)", 40),
    ),
    (DbForeignKey(("order_id", "line_no"), "order_lines", ("order_id", "line_no")),),
)
SCHEMA = DbSchema("sqlite", (CUSTOMERS, LINES, ORDERS, SHIPMENTS))


def _field(doc: dict[str, Any], collection: str, name: str) -> dict[str, Any]:
    (dataset,) = doc["dataset"]
    (col,) = [c for c in dataset["collections"] if c["name"] == collection]
    (field,) = [f for f in col["fields"] if f["name"] == name]
    return field  # type: ignore[no-any-return]


def _review(doc: dict[str, Any], collection: str, name: str, categories: list[str]) -> None:
    """What a human does: set the categories and remove the review marker."""
    field = _field(doc, collection, name)
    field["data_categories"] = categories
    del field["fides_meta"]["rightsflow"]["review"]


def test_the_draft_holds_keys_references_facts_and_suggestions() -> None:
    doc = draft_document(SCHEMA, KEY)
    names = [c["name"] for c in doc["dataset"][0]["collections"]]
    assert names == ["customers", "order_lines", "orders", "shipments"]
    email = _field(doc, "customers", "email")
    assert email["data_categories"] == ["user.contact.email"]
    assert email["fides_meta"]["identity"] == "email"
    assert email["fides_meta"]["length"] == 255
    assert email["fides_meta"]["rightsflow"] == {
        "nullable": False,
        "unique": True,
        "db_type": "VARCHAR(255)",
        "review": email["fides_meta"]["rightsflow"]["review"],
    }
    assert "length" not in _field(doc, "customers", "name")["fides_meta"]
    lines = [_field(doc, "order_lines", n)["fides_meta"] for n in ("order_id", "line_no")]
    assert [m.get("primary_key") for m in lines] == [True, True]
    assert [m["rightsflow"]["unique"] for m in lines] == [False, False]
    assert _field(doc, "shipments", "line_no")["fides_meta"]["references"] == [
        {"dataset": KEY, "field": "order_lines.line_no", "direction": "from"}
    ]
    assert _field(doc, "customers", "referred_by")["fides_meta"]["references"][0]["field"] == (
        "customers.id"
    )
    assert doc["dataset"][0]["meta"]["rightsflow"]["foreign_keys"][0] == (
        "customers.referred_by -> customers.id"
    )
    every = [f for c in doc["dataset"][0]["collections"] for f in c["fields"]]
    assert all(f["fides_meta"]["rightsflow"]["review"] for f in every)


def test_the_draft_parses_and_the_planner_reaches_children_through_foreign_keys() -> None:
    doc = draft_document(SCHEMA, KEY)
    for collection, name in (("order_lines", "sku"), ("shipments", "tracking_code")):
        _review(doc, collection, name, ["user.behavior.purchase_history"])
    _review(doc, "orders", "total", ["user.behavior.purchase_history"])
    datamap = parse_datamap({"shop.yml": dump_yaml(doc), "systems.yml": SYSTEMS}, {})
    plan = plan_request(datamap, parse_policies(None)["default_access"], ["email"])
    waves = {node.address: node.wave for node in plan.nodes}
    assert waves == {
        "shop:customers": 0,
        # contact_email is an email identity too; its customer_id reference is followed as well,
        # so an order whose contact email differs is still found through its customer
        "shop:orders": 1,
        "shop:order_lines": 2,
        "shop:shipments": 3,  # through the composite foreign key
    }
    assert plan.node("shop:orders").identity_inputs


def test_output_is_deterministic_whatever_the_table_order() -> None:
    shuffled = replace(SCHEMA, tables=tuple(reversed(SCHEMA.tables)))
    text = dump_yaml(draft_document(SCHEMA, KEY))
    assert text == dump_yaml(draft_document(shuffled, KEY))
    assert text == dump_yaml(draft_document(SCHEMA, KEY))


def test_merging_an_unchanged_schema_changes_nothing() -> None:
    doc = draft_document(SCHEMA, KEY)
    _review(doc, "customers", "name", ["user.name.first"])
    text = dump_yaml(doc)
    merged = merge_document(yaml.safe_load(text), SCHEMA, KEY)
    assert merged.changes == ()
    assert not merged.drift
    assert dump_yaml(merged.document) == text


def _evolved() -> DbSchema:
    """customers.email nullable and wider, customers.phone added, orders.total NUMERIC(12,2),
    order_lines.sku dropped, orders' foreign key dropped, a foreign key on contact_email."""
    customers = replace(
        CUSTOMERS,
        columns=(
            CUSTOMERS.columns[0],
            DbColumn("email", "string", "VARCHAR(320)", 320, nullable=True, unique=True),
            *CUSTOMERS.columns[2:],
            DbColumn("phone", "string", "VARCHAR(32)", 32),
        ),
    )
    orders = replace(
        ORDERS,
        columns=(*ORDERS.columns[:3], DbColumn("total", "float", "NUMERIC(12,2)", nullable=False)),
        foreign_keys=(DbForeignKey(("contact_email",), "customers", ("email",)),),
    )
    lines = replace(LINES, columns=LINES.columns[:2])
    return DbSchema("sqlite", (customers, lines, orders, SHIPMENTS))


def test_merge_keeps_what_a_human_wrote_and_lists_what_changed() -> None:
    doc = draft_document(SCHEMA, KEY)
    _review(doc, "customers", "name", ["user.name.first"])
    _field(doc, "customers", "name")["description"] = "given name only"
    _review(doc, "order_lines", "sku", ["user.behavior.purchase_history"])
    _field(doc, "orders", "total")["data_categories"] = ["user.financial"]  # still pending
    orders = doc["dataset"][0]["collections"][2]
    orders["description"] = "one row per checkout"
    orders["fides_meta"] = {"rightsflow": {"erasure": "keep", "exemption": {"legal_basis": "tax"}}}
    human_ref = {"dataset": KEY, "field": "customers.email", "direction": "to"}
    _field(doc, "shipments", "tracking_code")["fides_meta"]["references"] = [human_ref]

    merged = merge_document(copy.deepcopy(doc), _evolved(), KEY)
    new = merged.document

    name = _field(new, "customers", "name")
    assert name["data_categories"] == ["user.name.first"]
    assert name["description"] == "given name only"
    assert "review" not in name["fides_meta"]["rightsflow"]
    assert _field(new, "orders", "total")["data_categories"] == ["system.operations"]  # refreshed
    assert new["dataset"][0]["collections"][2]["description"] == "one row per checkout"
    assert new["dataset"][0]["collections"][2]["fides_meta"] == orders["fides_meta"]
    assert _field(new, "shipments", "tracking_code")["fides_meta"]["references"] == [human_ref]
    assert "references" not in _field(new, "orders", "customer_id")["fides_meta"]
    assert _field(new, "orders", "contact_email")["fides_meta"]["references"][0]["field"] == (
        "customers.email"
    )
    assert [str(c) for c in merged.changes] == [
        "~ column customers.email: length 255 -> 320, nullable false -> true, "
        "db_type VARCHAR(255) -> VARCHAR(320)",
        "+ column customers.phone: VARCHAR(32)",
        "- column order_lines.sku: removed from the database; its annotations are dropped: "
        "user.behavior.purchase_history",
        "~ column orders.total: db_type NUMERIC(10,2) -> NUMERIC(12,2)",
        "+ reference orders.contact_email -> customers.email: new foreign key",
        "- reference orders.customer_id -> customers.id: the foreign key is gone; "
        "reference dropped",
    ]
    assert merged.drift
    again = merge_document(yaml.safe_load(dump_yaml(new)), _evolved(), KEY)
    assert again.changes == ()
    assert dump_yaml(again.document) == dump_yaml(new)


def test_a_removed_table_is_listed_with_its_reviewed_annotations() -> None:
    doc = draft_document(SCHEMA, KEY)
    _review(doc, "shipments", "tracking_code", ["user.behavior.purchase_history"])
    smaller = DbSchema("sqlite", (CUSTOMERS, LINES, ORDERS))
    merged = merge_document(doc, smaller, KEY)
    assert [str(c) for c in merged.changes] == [
        "- table shipments: removed from the database; its annotations are dropped: "
        "tracking_code (user.behavior.purchase_history)"
    ]
    assert "shipments.order_id -> order_lines.order_id" not in str(merged.document)


def test_a_hand_written_map_keeps_its_categories_and_gains_the_database_facts() -> None:
    hand = {
        "dataset": [
            {
                "fides_key": KEY,
                "collections": [
                    {
                        "name": "orders",
                        "fields": [
                            {"name": "id", "data_categories": ["system.operations"],
                             "fides_meta": {"primary_key": True, "data_type": "integer"}},
                            {"name": "customer_id", "data_categories": ["system.operations"],
                             "fides_meta": {"references": [
                                 {"dataset": KEY, "field": "customers.id", "direction": "from"}
                             ]}},
                            {"name": "contact_email", "data_categories": ["user.contact.email"],
                             "fides_meta": {"identity": "email"}},
                            {"name": "total", "data_categories": ["user.behavior"],
                             "fidesops_meta": {"data_type": "float"}},
                            {"name": "gone", "data_categories": ["user.name"],
                             "description": "was here"},
                        ],
                    }
                ],
            }
        ]
    }  # fmt: skip
    merged = merge_document(hand, DbSchema("sqlite", (CUSTOMERS, ORDERS)), KEY)
    fields = {f["name"]: f for f in merged.document["dataset"][0]["collections"][1]["fields"]}
    assert list(fields) == ["id", "customer_id", "contact_email", "total"]
    assert fields["contact_email"]["data_categories"] == ["user.contact.email"]
    assert fields["contact_email"]["fides_meta"]["identity"] == "email"
    assert fields["total"]["data_categories"] == ["user.behavior"]
    assert "fidesops_meta" not in fields["total"]
    assert len(fields["customer_id"]["fides_meta"]["references"]) == 1  # not doubled
    lines = [str(c) for c in merged.changes]
    assert "+ table customers: 4 columns" in lines
    assert (
        "- column orders.gone: removed from the database; its annotations are dropped: "
        "user.name; description"
    ) in lines
    assert (
        "~ column orders.customer_id: data_type unset -> integer, nullable unset -> false, "
        "db_type unset -> INTEGER"
    ) in lines
    assert not any("reference" in line for line in lines)  # the FK reference was already there


def test_a_human_reference_to_a_removed_column_is_dropped_loudly() -> None:
    doc = draft_document(SCHEMA, KEY)
    ref = {"dataset": KEY, "field": "order_lines.sku", "direction": "to"}
    _field(doc, "shipments", "tracking_code")["fides_meta"]["references"] = [ref]
    lines = [str(c) for c in merge_document(doc, _evolved(), KEY).changes]
    assert (
        "- reference shipments.tracking_code -> order_lines.sku: its target was removed; "
        "the reference is dropped"
    ) in lines


def test_nested_fields_written_by_a_human_stay_an_object() -> None:
    doc = draft_document(SCHEMA, KEY)
    _field(doc, "customers", "name")["fields"] = [{"name": "first"}, {"name": "last"}]
    merged = merge_document(doc, SCHEMA, KEY)
    assert _field(merged.document, "customers", "name")["fides_meta"]["data_type"] == "object"
    assert [str(c) for c in merged.changes] == [
        "~ column customers.name: data_type string -> object"
    ]


def test_no_file_yet_is_drift_and_a_file_without_the_dataset_is_refused() -> None:
    assert merge_document(None, SCHEMA, KEY).drift
    with pytest.raises(InvalidInput, match="no dataset with fides_key 'shop'"):
        merge_document({"dataset": [{"fides_key": "other"}]}, SCHEMA, KEY)
    with pytest.raises(InvalidInput, match="top-level `dataset:` list"):
        merge_document(["not", "a", "dataset"], SCHEMA, KEY)


def test_review_count_counts_fields_still_marked() -> None:
    doc = draft_document(SCHEMA, KEY)
    total = sum(len(t.columns) for t in SCHEMA.tables)
    _review(doc, "customers", "name", ["user.name"])
    assert merge_document(doc, SCHEMA, KEY).review_count() == total - 1
