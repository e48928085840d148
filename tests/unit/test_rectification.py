"""Rectification values are checked against the data map's field types; errors name fields."""

from __future__ import annotations

import pytest

from rightsflow.domain.datamap import Collection, DataField, DataMap, Dataset, System
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.rectification import validate_corrections

FIELDS = (
    DataField("id", (), primary_key=True, data_type="integer"),
    DataField("name", ("user.name",), data_type="string", length=10, nullable=False),
    DataField("age", ("user.demographic",), data_type="integer"),
    DataField("score", ("user",), data_type="float"),
    DataField("vip", ("user",), data_type="boolean"),
    DataField("profile", ("user",), data_type="object", has_children=True),
    DataField("profile.nick", ("user.name",), data_type="string"),
)
DATAMAP = DataMap(
    (System("s", "sql", ("d",)),), (Dataset("d", (Collection("d", "people", FIELDS),)),)
)


def test_valid_corrections_pass_with_their_types() -> None:
    assert validate_corrections(
        DATAMAP,
        {"d:people.name": "Ada", "d:people.age": 36, "d:people.score": 2, "d:people.vip": True},
    ) == {"d:people.name": "Ada", "d:people.age": 36, "d:people.score": 2.0, "d:people.vip": True}


@pytest.mark.parametrize(
    ("address", "value", "message"),
    [
        ("d:people.name", "x" * 11, "at most 10 characters"),
        ("d:people.name", None, "cannot be empty"),
        ("d:people.name", 5, "expected a string"),
        ("d:people.age", "36", "expected an integer"),
        ("d:people.age", True, "expected an integer"),
        ("d:people.score", "high", "expected a number"),
        ("d:people.vip", "yes", "expected true or false"),
        ("d:people.id", 7, "primary key"),
        ("d:people.profile", "{}", "nested fields"),
        ("d:people.profile.nick", "Ada", "nested"),
        ("d:people.shoe_size", 9, "no such field"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(
    address: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_corrections(DATAMAP, {address: value})
    assert caught.value.field == f"corrections.{address}"
    assert message in str(caught.value)
    if isinstance(value, str) and len(value) > 3:
        assert value not in str(caught.value)


def test_no_corrections_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        validate_corrections(DATAMAP, {})
