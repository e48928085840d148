"""`fides_meta.rightsflow` annotations: parsed into the data map, or rejected with where."""

from __future__ import annotations

import pytest
import yaml

from rightsflow.domain.datamap import Exemption, RestrictionFlag
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.errors import DataMapInvalid

SYSTEMS = "systems:\n  - {key: db, connector: sql, datasets: [d], config: {url: 'sqlite://'}}\n"


def _files(collection_meta: object, field_meta: object = None) -> dict[str, str]:
    email: dict[str, object] = {
        "name": "email",
        "data_categories": ["user.contact.email"],
        "fides_meta": {"identity": "email", "data_type": "string"},
    }
    if field_meta is not None:
        email["fides_meta"]["rightsflow"] = field_meta  # type: ignore[index]
    collection: dict[str, object] = {
        "name": "invoices",
        "fields": [
            {"name": "id", "fides_meta": {"primary_key": True}},
            email,
            {"name": "restricted", "data_categories": ["system.operations"]},
        ],
    }
    if collection_meta is not None:
        collection["fides_meta"] = collection_meta
    doc = {"dataset": [{"fides_key": "d", "collections": [collection]}]}
    return {"d.yml": yaml.safe_dump(doc), "systems.yml": SYSTEMS}


def _parse(*args: object) -> object:
    return parse_datamap(_files(*args), {}).collection("d:invoices")


def test_collection_annotations_are_read() -> None:
    meta = {
        "erase_after": ["d.other"],
        "rightsflow": {
            "erasure": "keep",
            "exemption": {"legal_basis": "Tax law (10-year retention)", "retain_for": "10 years"},
            "on_parent_erase": "detach",
            "restriction": {"field": "restricted", "value": True},
        },
    }
    files = _files(meta)
    files["d.yml"] = files["d.yml"].replace(
        "collections:\n", "collections:\n  - name: other\n    fields: [{name: id}]\n", 1
    )
    c = parse_datamap(files, {}).collection("d:invoices")
    assert c.erasure == "keep"
    assert c.exemption == Exemption("Tax law (10-year retention)", "10 years")
    assert c.on_parent_erase == "detach"
    assert c.restriction == RestrictionFlag("restricted", True)
    assert c.erase_after == ("d:other",)


def test_field_annotations_are_read() -> None:
    meta = {"nullable": False, "unique": True, "db_type": "VARCHAR(255)", "review": "from name"}
    field = _parse(None, meta).field("email")  # type: ignore[attr-defined]
    assert (field.nullable, field.unique, field.db_type, field.review) == (
        False,
        True,
        "VARCHAR(255)",
        "from name",
    )


def test_fides_delete_override_means_delete() -> None:
    c = _parse({"masking_strategy_override": {"strategy": "delete"}})
    assert c.erasure == "delete"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"rightsflow": {"erasure": "keep"}}, "needs an `exemption`"),
        ({"rightsflow": {"erasure": "shred"}}, "Input should be"),
        ({"rightsflow": {"on_parent_erase": "orphan"}}, "Input should be"),
        ({"rightsflow": {"restriction": {"field": "nope"}}}, "no field 'nope'"),
        ({"rightsflow": {"unknown": 1}}, "Extra inputs"),
    ],
)
def test_bad_annotations_name_the_collection(meta: object, message: str) -> None:
    with pytest.raises(DataMapInvalid) as caught:
        _parse(meta)
    problems = caught.value.problems
    assert any(message in p.message for p in problems), problems
    assert all("collections(invoices)" in p.location for p in problems)


def test_bad_field_annotation_names_the_field() -> None:
    with pytest.raises(DataMapInvalid) as caught:
        _parse(None, {"nullable": "sometimes"})
    assert "fields(email)" in caught.value.problems[0].location
