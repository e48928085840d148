"""`datamap validate` warnings: data no identity reaches, and erasures a database would refuse."""

from __future__ import annotations

from rightsflow.domain.datamap import (
    Collection,
    DataField,
    DataMap,
    Dataset,
    FieldAddress,
    Reference,
    System,
)
from rightsflow.domain.datamap_checks import check_datamap
from rightsflow.domain.policy import DEFAULT_ERASURE, MaskRule, MaskStrategy, Policy
from rightsflow.domain.requests import RequestType

OPS = ("system.operations",)
KEY = DataField("id", OPS, primary_key=True)


def _map(*collections: Collection) -> DataMap:
    return DataMap((System("s", "sql", ("d",)),), (Dataset("d", collections),))


def _people(*more: DataField, **extra: object) -> Collection:
    email = DataField("email", ("user.contact.email",), identity="email", nullable=False)
    return Collection("d", "people", (KEY, email, *more), **extra)  # type: ignore[arg-type]


def test_targeted_data_without_an_identity_path_is_reported() -> None:
    orphan = Collection("d", "orphan", (KEY, DataField("name", ("user.name",))))
    warnings = check_datamap(_map(_people(), orphan), {"e": DEFAULT_ERASURE})
    assert any(w.startswith("d:orphan: holds data policy e targets") for w in warnings)


def test_null_on_a_not_null_column_is_reported() -> None:
    warnings = check_datamap(_map(_people()), {"e": DEFAULT_ERASURE})
    assert any(w.startswith("policy e: d:people.email:") and "NOT NULL" in w for w in warnings)


def test_fixed_longer_than_the_column_is_reported() -> None:
    name = DataField("name", ("user.name",), length=3)
    warnings = check_datamap(_map(_people(name)), {"e": DEFAULT_ERASURE})
    assert any(w.startswith("policy e: d:people.name:") for w in warnings), warnings


def test_masking_a_referenced_field_is_reported() -> None:
    ref = (Reference(FieldAddress("d", "people", "email"), "from"),)
    notes = Collection(
        "d", "notes", (KEY, DataField("author_email", ("user.contact.email",), references=ref))
    )
    policy = Policy(
        key="h",
        type=RequestType.ERASURE,
        targets=("user.contact.email",),
        masking=(MaskRule(category="user.contact.email", strategy=MaskStrategy.HASH),),
    )
    warnings = check_datamap(_map(_people(), notes), {"h": policy})
    assert any("d:notes.author_email references it" in w for w in warnings), warnings


def test_detaching_a_not_null_reference_is_reported() -> None:
    ref = (Reference(FieldAddress("d", "people", "id"), "from"),)
    orders = Collection(
        "d",
        "orders",
        (KEY, DataField("person_id", OPS, references=ref, nullable=False)),
        on_parent_erase="detach",
    )
    warnings = check_datamap(_map(_people(erasure="delete"), orders), {"e": DEFAULT_ERASURE})
    assert any(w.startswith("d:orders.person_id: detaching") for w in warnings), warnings


def test_pending_reviews_are_counted() -> None:
    phone = DataField("phone", ("user.contact.phone_number",), review="from the name")
    warnings = check_datamap(_map(_people(phone)), {})
    assert any(w.startswith("1 field(s) carry introspection suggestions") for w in warnings)


def _redis_map(erasure: str | None) -> DataMap:
    email = DataField("email", ("user.contact.email",), identity="email")
    extra = {"erasure": erasure} if erasure else {}
    sessions = Collection("d", "sessions", (email, DataField("ua", ("user.device",))), **extra)  # type: ignore[arg-type]
    config = {"url": "redis://x", "collections": {"sessions": {"key": "s:{email}", "type": "hash"}}}
    return DataMap((System("s", "redis", ("d",), config),), (Dataset("d", (sessions,)),))


def test_masking_a_redis_key_named_after_the_subject_is_reported() -> None:
    warnings = check_datamap(_redis_map(None), {"e": DEFAULT_ERASURE})
    assert any(
        "d:sessions: policy e masks it, but its redis key names hold email" in w for w in warnings
    ), warnings
    assert not any(
        "redis key" in w for w in check_datamap(_redis_map("delete"), {"e": DEFAULT_ERASURE})
    )
