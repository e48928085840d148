"""The data map page's facts (api/web/console_datamap_view.py): references point the way values
flow, and a connector's reason for being down never carries a config value."""

from __future__ import annotations

from rightsflow.api.web.console_datamap_view import references, scrub
from rightsflow.domain.datamap import (
    Collection,
    DataField,
    DataMap,
    Dataset,
    Direction,
    FieldAddress,
    Reference,
    System,
)


def test_a_reason_never_carries_a_url_or_its_password() -> None:
    config = {"url": "postgresql://app:pw-9876@db.internal/shop", "nested": {"token": "abcd1234"}}
    reason = scrub(
        "could not reach postgresql://app:pw-9876@db.internal/shop (token abcd1234, pw-9876)\n",
        config,
    )
    assert reason == "could not reach … (token …, …)"


def test_references_point_the_way_values_flow() -> None:
    def ref(field: str, direction: Direction) -> Reference:
        return Reference(FieldAddress("d", "parent", field), direction)

    child = Collection(
        "d",
        "child",
        (
            DataField("parent_id", references=(ref("id", None),)),
            DataField("pushed", references=(ref("copy", "to"),)),
        ),
    )
    parent = Collection("d", "parent", (DataField("id"), DataField("copy")))
    datamap = DataMap((System("s", "sql", ("d",)),), (Dataset("d", (parent, child)),))
    assert [(r.source, r.target, r.fields) for r in references(datamap)] == [
        ("d:parent", "d:child", "d:parent.id → d:child.parent_id"),
        ("d:child", "d:parent", "d:child.pushed → d:parent.copy"),
    ]
