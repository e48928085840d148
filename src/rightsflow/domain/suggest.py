"""Suggested data categories and identities for a database column, from its name and type.

Pure heuristics over a table of rules (first match wins), so adding a pattern is one line. A
suggestion is only a draft: every one carries a `review` text saying why it was made, which a
human removes once they have checked it.

Names are compared as tokens: `customerEmail`, `customer_email` and `CUSTOMER-EMAIL` are all
(customer, email), and `zip` never matches inside `zipper`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rightsflow.domain.db_schema import DbColumn, DbTable

OPERATIONAL = "system.operations"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_TEMPORAL = re.compile(r"DATE|TIME|INTERVAL|YEAR")
# A trailing token like these names something *about* the value (`email_verified`,
# `message_id`), not the value itself; it blocks personal rules whose phrase ends earlier.
_NOT_THE_VALUE = frozenset(
    {"id", "ids", "uuid", "count", "type", "types", "status", "kind", "at", "on", "sent",
     "verified", "confirmed", "enabled", "flag", "format", "version", "source", "length"}
)  # fmt: skip
# Tables (or column prefixes) about people: a bare `name` there is a person's name.
_PEOPLE = frozenset(
    {"user", "users", "customer", "customers", "person", "persons", "people", "member",
     "members", "employee", "employees", "contact", "contacts", "profile", "profiles",
     "account", "accounts", "patient", "patients", "student", "students", "client", "clients",
     "subscriber", "subscribers", "guest", "guests", "recipient", "recipients", "author",
     "authors", "owner", "owners", "buyer", "buyers", "applicant", "applicants", "holder"}
)  # fmt: skip
# Evidence that `state` or `country` is part of an address, not an order state or an origin.
_ADDRESS = _PEOPLE | frozenset(
    {"address", "addresses", "billing", "shipping", "mailing", "home", "street", "city",
     "zip", "postal", "postcode", "zipcode"}
)  # fmt: skip

Scope = Literal["table", "siblings"]


@dataclass(frozen=True)
class Suggestion:
    category: str
    identity: str | None
    review: str


@dataclass(frozen=True)
class Rule:
    """Match on a name phrase or a type pattern, under the guards; suggest `category`."""

    label: str
    category: str
    names: tuple[str, ...] = ()  # phrases, tokenised like column names
    db_types: tuple[str, ...] = ()  # regular expressions over the upper-cased database type
    identity: str | None = None
    text_only: bool = False  # only string columns that are not dates or times
    context: frozenset[str] = frozenset()  # one of these tokens must be near the column
    scope: Scope = "table"  # "table": the table's and column's names; "siblings": any column
    key: Literal["primary", "foreign"] | None = None  # only key columns of that kind
    temporal: bool = False  # only date/time columns


RULES: tuple[Rule, ...] = (
    Rule("email address", "user.contact.email", ("email", "e_mail", "emailaddress", "mail"),
         identity="email", text_only=True),
    Rule("IP address", "user.device.ip_address",
         ("ip", "ip_address", "ipaddress", "ip_addr", "remote_addr", "ipv4", "ipv6"),
         db_types=(r"^INET\b", r"^CIDR\b")),
    Rule("device identifier", "user.device.device_id",
         ("device_id", "deviceid", "udid", "idfa", "idfv", "gaid", "advertising_id"),
         identity="device_id", text_only=True),
    Rule("hardware address", "user.device.device_id", ("mac_address", "macaddr"),
         db_types=(r"^MACADDR",)),
    Rule("phone number", "user.contact.phone_number",
         ("phone", "mobile", "tel", "telephone", "cell", "msisdn", "phonenumber"),
         identity="phone_number", text_only=True),
    Rule("fax number", "user.contact.fax_number", ("fax",), text_only=True),
    Rule("card number", "user.financial.credit_card",
         ("card_number", "cardnumber", "card_no", "credit_card", "pan", "ccn", "cc_number",
          "last4", "last_4", "last_four", "cvv", "cvc")),
    Rule("bank account", "user.financial.bank_account",
         ("iban", "account_number", "account_no", "bank_account", "routing_number",
          "sort_code", "bic", "swift")),
    Rule("national identity number", "user.government_id.national_identification_number",
         ("ssn", "social_security", "national_id", "national_insurance", "nin", "tax_id",
          "tin", "nif", "nino")),
    Rule("passport number", "user.government_id.passport_number", ("passport",)),
    Rule("driving licence number", "user.government_id.drivers_license_number",
         ("drivers_license", "driver_license", "driving_licence", "driver_licence")),
    Rule("credential", "user.authorization.credentials",
         ("password", "passwd", "pwd", "hash", "token", "secret", "api_key", "salt", "otp",
          "recovery_code"), text_only=True),
    Rule("user name", "user.account.username",
         ("username", "user_name", "login", "screen_name", "nickname"), text_only=True),
    Rule("person's name", "user.name",
         ("first_name", "firstname", "last_name", "lastname", "full_name", "fullname",
          "given_name", "family_name", "surname", "middle_name", "maiden_name"), text_only=True),
    Rule("person's name", "user.name", ("name",), context=_PEOPLE, text_only=True),
    Rule("date of birth", "user.demographic.date_of_birth",
         ("dob", "birth", "birthdate", "birthday", "date_of_birth")),
    Rule("gender", "user.demographic.gender", ("gender", "sex")),
    Rule("street address", "user.contact.address.street",
         ("street", "address", "addr", "address_line", "house_number", "line1", "line2"),
         text_only=True),
    Rule("city", "user.contact.address.city", ("city", "town"), text_only=True),
    Rule("postal code", "user.contact.address.postal_code",
         ("zip", "zipcode", "zip_code", "postal", "postal_code", "postcode", "post_code")),
    Rule("state or region", "user.contact.address.state", ("state", "province", "county"),
         context=_ADDRESS, scope="siblings", text_only=True),
    Rule("country", "user.contact.address.country", ("country",), context=_ADDRESS,
         scope="siblings", text_only=True),
    Rule("geographic coordinate", "user.location.precise",
         ("lat", "latitude", "lon", "lng", "longitude", "geo", "geolocation", "coordinates"),
         db_types=(r"^GEOGRAPHY", r"^GEOMETRY", r"^POINT")),
    Rule("free text", "user.content.private",
         ("note", "notes", "message", "messages", "body", "comment", "comments", "bio",
          "feedback", "remarks"), text_only=True),
    Rule("language", "user.demographic.language", ("language", "locale"), text_only=True),
    # Structural rules: nothing personal recognised, but the column's role is clear.
    Rule("primary key", OPERATIONAL, key="primary"),
    Rule("foreign key", OPERATIONAL, key="foreign"),
    Rule("timestamp", OPERATIONAL, temporal=True),
    Rule("timestamp", OPERATIONAL,
         ("created_at", "updated_at", "deleted_at", "modified_at", "ts", "timestamp")),
)  # fmt: skip


def tokens(name: str) -> tuple[str, ...]:
    """`billingAddressLine1` -> (billing, address, line, 1)."""
    return tuple(t.lower() for t in _SPLIT.split(_CAMEL.sub("_", name)) if t)


_PHRASES = {phrase: tokens(phrase) for rule in RULES for phrase in rule.names}


@dataclass(frozen=True)
class _Column:
    """What the rules look at: the column's tokens, its surroundings and its kind."""

    own: tuple[str, ...]
    table: frozenset[str]
    siblings: frozenset[str]
    db_type: str
    text: bool
    temporal: bool
    primary: bool
    foreign: bool


def suggest(table: DbTable, column: DbColumn) -> Suggestion:
    """The first rule that fits the column, or `system.operations` marked for review."""
    seen = _describe(table, column)
    for rule in RULES:
        how = _match(rule, seen)
        if how is not None:
            return Suggestion(rule.category, rule.identity, _review(rule, how, table, column))
    return Suggestion(
        OPERATIONAL,
        None,
        "nothing personal recognised from the name or type; set its data categories",
    )


def _describe(table: DbTable, column: DbColumn) -> _Column:
    db_type = column.db_type.upper()
    temporal = bool(_TEMPORAL.search(db_type))
    return _Column(
        own=tokens(column.name),
        table=frozenset(tokens(table.name)),
        siblings=frozenset(
            t for c in table.columns if c.name != column.name for t in tokens(c.name)
        ),
        db_type=db_type,
        text=column.data_type == "string" and not temporal,
        temporal=temporal,
        primary=column.primary_key,
        foreign=bool(table.parents_of(column.name)),
    )


def _match(rule: Rule, seen: _Column) -> str | None:
    """How the rule matched ("name", "type" or "role"), or None."""
    if not _applies(rule, seen):
        return None
    if any(re.search(pattern, seen.db_type) for pattern in rule.db_types):
        return "type"
    if any(_has_phrase(seen.own, _PHRASES[p], personal=_personal(rule)) for p in rule.names):
        return "name"
    if not rule.names and not rule.db_types:
        return "role"
    return None


def _applies(rule: Rule, seen: _Column) -> bool:
    """The rule's guards: the column's kind, key role and surroundings."""
    return (
        (seen.text or not rule.text_only)
        and (seen.temporal or not rule.temporal)
        and (rule.key != "primary" or seen.primary)
        and (rule.key != "foreign" or seen.foreign)
        and (not rule.context or _has_context(rule, seen))
    )


def _personal(rule: Rule) -> bool:
    return rule.category != OPERATIONAL


def _has_context(rule: Rule, seen: _Column) -> bool:
    near = seen.table | set(seen.own)
    if rule.scope == "siblings":
        near |= seen.siblings
    return not rule.context.isdisjoint(near)


def _has_phrase(own: tuple[str, ...], phrase: tuple[str, ...], *, personal: bool) -> bool:
    """`phrase` appears in `own` as consecutive tokens; for personal rules, not followed by a
    last token that describes the value instead of holding it (`email_verified`)."""
    size = len(phrase)
    for start in range(len(own) - size + 1):
        if own[start : start + size] != phrase:
            continue
        end = start + size
        if personal and end < len(own) and own[-1] in _NOT_THE_VALUE:
            continue
        return True
    return False


def _review(rule: Rule, how: str, table: DbTable, column: DbColumn) -> str:
    if how == "role":
        if rule.key == "foreign":
            parents = ", ".join(table.parents_of(column.name))
            return f"foreign key to {parents}; operational unless it identifies a person"
        if rule.key == "primary":
            return "primary key; operational unless it identifies a person"
        return f"{rule.label} ({column.db_type}); operational unless it records a person's data"
    source = f"the type {column.db_type}" if how == "type" else "the column name"
    text = f"{rule.label} recognised from {source}"
    if rule.category == OPERATIONAL:
        return f"{text}; operational unless it records a person's data"
    if rule.identity:
        return f"{text}; confirm the category and the identity ({rule.identity})"
    return f"{text}; confirm the category"
