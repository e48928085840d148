"""Suggested data categories and identities from column names and types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightsflow.domain.categories import is_known
from rightsflow.domain.db_schema import DbColumn, DbForeignKey, DbTable
from rightsflow.domain.suggest import OPERATIONAL, RULES, suggest, tokens

NATIONAL_ID = "user.government_id.national_identification_number"


def _column(name: str, data_type: str = "string", db_type: str = "VARCHAR(100)") -> DbColumn:
    return DbColumn(name, data_type, db_type)


def _suggest(
    table: str,
    name: str,
    data_type: str = "string",
    db_type: str = "VARCHAR(100)",
    siblings: tuple[str, ...] = (),
) -> tuple[str, str | None]:
    column = _column(name, data_type, db_type)
    others = tuple(_column(s) for s in siblings)
    s = suggest(DbTable(table, (column, *others)), column)
    return s.category, s.identity


def test_every_rule_names_a_known_category() -> None:
    unknown = [(r.label, r.category) for r in RULES if not is_known(r.category)]
    assert unknown == []


@pytest.mark.parametrize(
    ("table", "name", "data_type", "db_type", "expected"),
    [
        ("users", "email", "string", "VARCHAR(255)", ("user.contact.email", "email")),
        ("orders", "customerEmail", "string", "TEXT", ("user.contact.email", "email")),
        ("users", "EMAIL_ADDRESS", "string", "TEXT", ("user.contact.email", "email")),
        ("users", "mobile", "string", "VARCHAR(20)", ("user.contact.phone_number", "phone_number")),
        ("users", "tel", "string", "TEXT", ("user.contact.phone_number", "phone_number")),
        ("users", "first_name", "string", "TEXT", ("user.name", None)),
        ("users", "lastName", "string", "TEXT", ("user.name", None)),
        ("customers", "name", "string", "TEXT", ("user.name", None)),
        ("orders", "recipient_name", "string", "TEXT", ("user.name", None)),
        ("addresses", "street", "string", "TEXT", ("user.contact.address.street", None)),
        ("addresses", "address_line_1", "string", "TEXT", ("user.contact.address.street", None)),
        ("addresses", "city", "string", "TEXT", ("user.contact.address.city", None)),
        ("addresses", "zip", "string", "TEXT", ("user.contact.address.postal_code", None)),
        ("addresses", "postal_code", "string", "TEXT", ("user.contact.address.postal_code", None)),
        ("addresses", "state", "string", "TEXT", ("user.contact.address.state", None)),
        ("users", "country", "string", "CHAR(2)", ("user.contact.address.country", None)),
        ("users", "dob", "string", "DATE", ("user.demographic.date_of_birth", None)),
        ("users", "birth_date", "string", "DATE", ("user.demographic.date_of_birth", None)),
        ("users", "gender", "string", "TEXT", ("user.demographic.gender", None)),
        ("logins", "ip", "string", "VARCHAR(45)", ("user.device.ip_address", None)),
        ("logins", "remote", "string", "INET", ("user.device.ip_address", None)),
        ("devices", "device_id", "string", "UUID", ("user.device.device_id", "device_id")),
        ("cards", "last4", "string", "CHAR(4)", ("user.financial.credit_card", None)),
        ("cards", "pan", "string", "TEXT", ("user.financial.credit_card", None)),
        ("payouts", "iban", "string", "TEXT", ("user.financial.bank_account", None)),
        ("payouts", "account_number", "string", "TEXT", ("user.financial.bank_account", None)),
        ("users", "password_hash", "string", "TEXT", ("user.authorization.credentials", None)),
        ("sessions", "token", "string", "TEXT", ("user.authorization.credentials", None)),
        ("users", "ssn", "string", "TEXT", (NATIONAL_ID, None)),
        ("users", "passport_no", "string", "TEXT", ("user.government_id.passport_number", None)),
        ("visits", "lat", "float", "DOUBLE", ("user.location.precise", None)),
        ("visits", "longitude", "float", "DOUBLE", ("user.location.precise", None)),
        ("tickets", "body", "string", "TEXT", ("user.content.private", None)),
        ("tickets", "notes", "string", "TEXT", ("user.content.private", None)),
        ("events", "created_at", "string", "TIMESTAMP", (OPERATIONAL, None)),
    ],
)  # fmt: skip
def test_names_and_types_suggest_categories(
    table: str, name: str, data_type: str, db_type: str, expected: tuple[str, str | None]
) -> None:
    assert _suggest(table, name, data_type, db_type) == expected


@pytest.mark.parametrize(
    ("table", "name", "data_type", "db_type"),
    [
        ("users", "email_verified", "boolean", "BOOLEAN"),  # about the email, not the email
        ("users", "email_status", "string", "VARCHAR(10)"),
        ("messages", "message_id", "string", "UUID"),
        ("users", "password_reset_at", "string", "TIMESTAMP"),
        ("products", "name", "string", "TEXT"),  # a bare name outside a people table
        ("orders", "state", "string", "VARCHAR(10)"),  # an order state, no address around
        ("files", "zipper", "string", "TEXT"),  # tokens, not substrings
        ("hotels", "hotel", "string", "TEXT"),
    ],
)
def test_look_alikes_are_not_personal(table: str, name: str, data_type: str, db_type: str) -> None:
    category, identity = _suggest(table, name, data_type, db_type)
    assert (category, identity) == (OPERATIONAL, None)


def test_state_is_an_address_part_next_to_address_columns() -> None:
    assert _suggest("orders", "state", siblings=("city", "zip"))[0] == "user.contact.address.state"
    assert _suggest("orders", "shipping_state")[0] == "user.contact.address.state"


def test_every_suggestion_says_why_and_unrecognised_columns_say_so() -> None:
    sku = _column("sku")
    unknown = suggest(DbTable("items", (sku,)), sku)
    assert unknown.category == OPERATIONAL
    assert unknown.review.startswith("nothing personal recognised")
    email = _column("email")
    assert (
        "email address recognised from the column name"
        in suggest(DbTable("t", (email,)), email).review
    )


def test_keys_and_timestamps_are_operational_with_their_role_in_the_review() -> None:
    pk = DbColumn("id", "integer", "INTEGER", primary_key=True)
    fk = DbColumn("order_id", "integer", "BIGINT")
    when = DbColumn("placed", "string", "TIMESTAMP WITH TIME ZONE")
    table = DbTable("lines", (pk, fk, when), (DbForeignKey(("order_id",), "orders", ("id",)),))
    reviews = {c.name: suggest(table, c) for c in table.columns}
    assert {s.category for s in reviews.values()} == {OPERATIONAL}
    assert reviews["id"].review.startswith("primary key")
    assert reviews["order_id"].review.startswith("foreign key to orders.id")
    assert reviews["placed"].review.startswith("timestamp")


def test_personal_names_win_over_key_roles() -> None:
    email = DbColumn("email", "string", "TEXT", primary_key=True)
    assert suggest(DbTable("subscribers", (email,)), email).identity == "email"


def test_tokens_split_snake_camel_and_digits() -> None:
    assert tokens("billingAddressLine1") == ("billing", "address", "line", "1")
    assert tokens("HTTPRequest_ID") == ("http", "request", "id")
    assert tokens("e-mail") == ("e", "mail")


@given(
    table=st.text(max_size=20),
    name=st.text(min_size=1, max_size=30),
    data_type=st.sampled_from(["string", "integer", "float", "boolean", "object"]),
    db_type=st.text(max_size=20),
    primary=st.booleans(),
)
def test_any_column_gets_a_known_category_and_a_review(
    table: str, name: str, data_type: str, db_type: str, primary: bool
) -> None:
    column = DbColumn(name, data_type, db_type, primary_key=primary)
    s = suggest(DbTable(table, (column,)), column)
    assert is_known(s.category)
    assert s.review
    assert s.identity in (None, "email", "phone_number", "device_id")
