"""A production-style example database (`crm`) and its data map, for the request-type tests.

customers (unique email, nullable columns, DATE, NUMERIC, a JSON profile with nested personal
data, a restriction flag), orders (composite key, FK ON DELETE RESTRICT), order_lines
(composite FK onto orders' composite key), invoices (kept under an exemption, detached when
their customer goes). Three customers; the subject is the middle one. Policies: one erasure
policy per masking strategy, and a mixed one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

SUBJECT = 2  # customers 1, 2, 3: the subject's rows sit between the others'
BASIS = "Tax law: invoices are kept for 10 years"


def crm_schema() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "customers", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(120), nullable=False, unique=True),
        sa.Column("name", sa.String(80)),
        sa.Column("phone", sa.String(30)),
        sa.Column("birth_date", sa.Date),
        sa.Column("credit_limit", sa.Numeric(10, 2)),
        sa.Column("profile", sa.JSON),
        sa.Column("restricted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )  # fmt: skip
    sa.Table(
        "orders", md,
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id", ondelete="RESTRICT"),
                  primary_key=True),
        sa.Column("order_no", sa.Integer, primary_key=True),
        sa.Column("ship_name", sa.String(80)),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("placed_on", sa.Date, nullable=False),
        sa.Column("restricted", sa.Boolean, nullable=False),
    )  # fmt: skip
    sa.Table(
        "order_lines", md,
        sa.Column("customer_id", sa.Integer, primary_key=True),
        sa.Column("order_no", sa.Integer, primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(["customer_id", "order_no"],
                                ["orders.customer_id", "orders.order_no"], ondelete="RESTRICT"),
    )  # fmt: skip
    sa.Table(
        "invoices", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id", ondelete="RESTRICT")),
        sa.Column("billing_name", sa.String(80), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("restricted", sa.Boolean, nullable=False),
    )  # fmt: skip
    return md


NAMES = {1: "Ada Lovelace", 2: "Grace Hopper", 3: "Alan Turing"}


def crm_rows() -> dict[str, list[dict[str, Any]]]:
    customers = [
        {"id": i, "email": f"{NAMES[i].split()[0].lower()}@crm.example", "name": NAMES[i],
         "phone": f"+44 7700 90012{i}", "birth_date": date(1980 + i, i + 2, 10 + i),
         "credit_limit": Decimal(f"{i}234.50"), "restricted": False,
         "profile": {"nickname": NAMES[i].split()[0][:3], "tier": "gold",
                     "address": {"city": ["Paris", "Zürich", "Oslo"][i - 1], "zip": f"00{i}"}},
         "created_at": f"2026-0{i}-01T09:00:00"}
        for i in (1, 2, 3)
    ]  # fmt: skip
    orders = [
        {"customer_id": i, "order_no": n, "ship_name": NAMES[i] if n == 1 else None,
         "total": Decimal(f"{10 * i + n}.95"), "placed_on": date(2026, n, i), "restricted": False}
        for i in (1, 2, 3) for n in (1, 2)
    ]  # fmt: skip
    lines = [
        {"customer_id": o["customer_id"], "order_no": o["order_no"], "line_no": k, "sku": f"S{k}"}
        for o in orders for k in (1, 2)
    ]  # fmt: skip
    invoices = [
        {"id": 10 * i + k, "customer_id": i, "billing_name": NAMES[i],
         "amount": Decimal(f"{i}{k}.00"), "restricted": False}
        for i in (1, 2, 3) for k in (1, 2)
    ]  # fmt: skip
    return {"customers": customers, "orders": orders, "order_lines": lines, "invoices": invoices}


def _field(name: str, category: str | None = None, *children: Any, **meta: Any) -> Any:
    """A fideslang field; `facts` go to fides_meta.rightsflow."""
    if "facts" in meta:
        meta["rightsflow"] = meta.pop("facts")
    out = {"name": name, "data_categories": [category] if category else None,
           "fields": list(children) or None, "fides_meta": meta or None}  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def _ref(field: str) -> dict[str, Any]:
    return {"references": [{"dataset": "crm", "field": field, "direction": "from"}]}


def _text(length: int, *, nullable: bool = True, unique: bool = False) -> dict[str, Any]:
    facts = {"nullable": nullable, "unique": unique, "db_type": f"VARCHAR({length})"}
    return {"data_type": "string", "length": length, "facts": facts}


OPS, KEY = "system.operations", {"primary_key": True, "data_type": "integer"}
FLAG = {"restriction": {"field": "restricted", "value": True}}
CUSTOMERS = [
    _field("id", OPS, **KEY),
    _field("email", "user.contact.email", identity="email",
           **_text(120, nullable=False, unique=True)),
    _field("name", "user.name", **_text(80)),
    _field("phone", "user.contact.phone_number", **_text(30)),
    _field("birth_date", "user.demographic.date_of_birth", data_type="string",
           facts={"nullable": True, "db_type": "DATE"}),
    _field("credit_limit", "user.financial", data_type="float",
           facts={"nullable": True, "db_type": "NUMERIC(10,2)"}),
    _field("profile", None,
           _field("nickname", "user.name"), _field("tier", OPS),
           _field("address", None, _field("city", "user.contact.address.city"),
                  _field("zip", OPS))),
    _field("restricted", OPS, data_type="boolean"),
    _field("created_at", OPS, data_type="string"),
]  # fmt: skip
ORDERS = [
    _field("customer_id", OPS, **KEY, **_ref("customers.id")),
    _field("order_no", OPS, **KEY),
    _field("ship_name", "user.name", **_text(80)),
    _field("total", OPS, data_type="float"),
    _field("placed_on", OPS, data_type="string"),
    _field("restricted", OPS, data_type="boolean"),
]
ORDER_LINES = [  # the reference on the key component the subject owns (not on order_no)
    _field("customer_id", OPS, **KEY, **_ref("orders.customer_id")),
    _field("order_no", OPS, **KEY),
    _field("line_no", OPS, **KEY),
    _field("sku", OPS, data_type="string"),
]
INVOICES = [
    _field("id", OPS, **KEY),
    _field("customer_id", OPS, data_type="integer", **_ref("customers.id"),
           facts={"nullable": True}),
    _field("billing_name", "user.name", **_text(80, nullable=False)),
    _field("amount", OPS, data_type="float"),
    _field("restricted", OPS, data_type="boolean"),
]  # fmt: skip
KEPT = {"erasure": "keep", "exemption": {"legal_basis": BASIS}, "on_parent_erase": "detach"}
DATASET = {"dataset": [{"fides_key": "crm", "collections": [
    {"name": "customers", "fides_meta": {"rightsflow": FLAG}, "fields": CUSTOMERS},
    {"name": "orders", "fides_meta": {"rightsflow": FLAG}, "fields": ORDERS},
    {"name": "order_lines", "fields": ORDER_LINES},
    {"name": "invoices", "fides_meta": {"rightsflow": {**KEPT, **FLAG}}, "fields": INVOICES},
]}]}  # fmt: skip


def _policy(key: str, targets: list[str], *rules: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "type": "erasure", "targets": targets, "masking": list(rules)}


POLICIES = [
    _policy("erase_account", ["user.contact", "user.name", "user.demographic"],
            {"category": "user.contact.email", "strategy": "fixed", "value": "erased"},
            {"category": "user.contact", "strategy": "null"},
            {"category": "user.name", "strategy": "fixed", "value": "MASKED"},
            {"category": "user.demographic", "strategy": "generalize", "granularity": "year"}),
    _policy("erase_null", ["user.contact.phone_number"],
            {"category": "user.contact.phone_number", "strategy": "null"}),
    _policy("erase_fixed", ["user.contact.email"],
            {"category": "user.contact.email", "strategy": "fixed", "value": "erased"}),
    *(_policy(f"erase_{s}", ["user.name"], {"category": "user.name", "strategy": s})
      for s in ("random", "hash", "encrypt")),
    _policy("erase_generalize", ["user.demographic.date_of_birth", "user.financial"],
            {"category": "user.demographic.date_of_birth", "strategy": "generalize",
             "granularity": "month"},
            {"category": "user.financial", "strategy": "generalize", "granularity": 1000}),
    _policy("erase_delete", ["user.contact.email"],
            {"category": "user.contact.email", "strategy": "delete"}),
]  # fmt: skip
