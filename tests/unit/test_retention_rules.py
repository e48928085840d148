"""Retention rules of the data map: parsing, validation with file and line, cutoffs, order and
chunk planning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from rightsflow.domain.datamap import Collection, DataField, FieldAddress, Reference
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.errors import DataMapInvalid
from rightsflow.domain.retention_rules import (
    ChunkPlan,
    MaxAge,
    parse_duration,
    parse_schedule,
    sweep_order,
    targeted_fields,
)
from rightsflow.sample.shop import shop_dataset_yaml

SYSTEMS = "systems:\n  - key: shop_db\n    connector: sql\n    datasets: [shop]\n"


def parse(retention: str):  # type: ignore[no-untyped-def]
    files = {"shop.yml": shop_dataset_yaml(), "systems.yml": SYSTEMS, "retention.yml": retention}
    return parse_datamap(files, {})


def problems(retention: str) -> list[str]:
    with pytest.raises(DataMapInvalid) as caught:
        parse(retention)
    return [str(p) for p in caught.value.problems]


GOOD = """\
retention:
  - key: old_logins
    target: shop.login_events
    age_field: ts
    max_age: 90 days
  - key: old_devices
    target: user.device
    age_field: ts
    max_age: 2 years
    action: mask
    schedule: "15 4 * * 1"
"""


def test_rules_parse_with_defaults_and_resolve_collections() -> None:
    dm = parse(GOOD)
    logins, devices = dm.retention
    assert (logins.key, logins.action, logins.schedule, logins.cron) == (
        "old_logins",
        "delete",
        "daily at 03:00",
        "0 3 * * *",
    )
    assert logins.collections == ("shop:login_events",)
    assert logins.category is None
    assert devices.collections == ("shop:login_events",)  # the only user.device holder
    assert devices.category == "user.device"
    assert (devices.max_age, devices.cron) == (MaxAge(2, "year"), "15 4 * * 1")
    login_events = dm.collection("shop:login_events")
    assert targeted_fields(login_events, devices) == ("ip",)
    assert targeted_fields(login_events, logins) == ("customer_email", "ip")


def test_no_retention_file_means_no_rules() -> None:
    dm = parse_datamap({"shop.yml": shop_dataset_yaml(), "systems.yml": SYSTEMS}, {})
    assert dm.retention == ()


def test_every_problem_is_reported_with_its_line() -> None:
    text = """\
retention:
  - key: a
    target: user.nothing_like_this
    age_field: ts
    max_age: 90 days
  - key: b
    target: shop.login_events
    age_field: nope
    max_age: soon
    action: shred
  - key: c
    target: shop.customers
    age_field: email
    max_age: 1 year
    schedule: whenever
    extra: 1
"""
    found = problems(text)
    assert (
        "retention.yml: line 3: retention[0].target: unknown data category or collection "
        in (found[0])
    )
    assert any("line 9: retention[1].max_age" in p for p in found)
    assert any("line 10: retention[1].action" in p for p in found)
    assert any(
        "line 8: retention[1].age_field: shop:login_events has no field 'nope'" in p for p in found
    )
    assert any("line 15: retention[2].schedule" in p for p in found)
    assert any("line 16: retention[2].extra: unknown key" in p for p in found)
    assert len(found) == 6


def test_a_non_date_age_field_is_refused() -> None:
    doc = yaml.safe_load(shop_dataset_yaml())
    [customers] = [c for c in doc["dataset"][0]["collections"] if c["name"] == "customers"]
    [email] = [f for f in customers["fields"] if f["name"] == "email"]
    email.setdefault("fides_meta", {})["data_type"] = "integer"
    text = "retention:\n  - {key: k, target: shop.customers, age_field: email, max_age: 9 days}\n"
    files = {"shop.yml": yaml.safe_dump(doc), "systems.yml": SYSTEMS, "retention.yml": text}
    with pytest.raises(DataMapInvalid) as caught:
        parse_datamap(files, {})
    [problem] = caught.value.problems
    assert problem.location == "line 2: retention[0].age_field"
    assert "is integer, not a date or timestamp" in problem.message


def test_duplicate_keys_and_a_wrong_shape() -> None:
    twice = (
        "retention:\n"
        + "  - {key: k, target: shop.login_events, age_field: ts, max_age: 1 day}\n" * 2
    )
    assert problems(twice) == [
        "retention.yml: line 3: retention[1].key: rule key 'k' is used twice"
    ]
    assert problems("rules: []\n") == [
        "retention.yml: line 1: expected a top-level `retention:` list"
    ]


def test_durations_and_schedules() -> None:
    assert parse_duration("90 days") == MaxAge(90, "day")
    assert parse_duration("1 Week") == MaxAge(1, "week")
    assert parse_duration("0 days") is None
    assert parse_duration("ninety days") is None
    assert parse_duration(90) is None
    assert parse_schedule("daily at 3:05") == "5 3 * * *"
    assert parse_schedule("*/15 0-6 * * 1,3") == "*/15 0-6 * * 1,3"
    assert parse_schedule("daily at 25:00") is None
    assert parse_schedule("* * *") is None


def test_cutoffs_are_calendar_aware() -> None:
    now = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
    assert MaxAge(1, "month").cutoff(now) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    assert MaxAge(2, "year").cutoff(now) == datetime(2022, 3, 31, 12, 0, tzinfo=UTC)
    assert MaxAge(13, "month").cutoff(now) == datetime(2023, 2, 28, 12, 0, tzinfo=UTC)
    assert MaxAge(10, "day").cutoff(now) == datetime(2024, 3, 21, 12, 0, tzinfo=UTC)
    assert MaxAge(1, "week").cutoff(now) == datetime(2024, 3, 24, 12, 0, tzinfo=UTC)


def test_children_are_swept_before_their_parents() -> None:
    def collection(name: str, parent: str | None = None) -> Collection:
        refs = (Reference(FieldAddress("d", parent, "id")),) if parent else ()
        return Collection("d", name, (DataField("id", primary_key=True, references=refs),))

    order = sweep_order([collection("a"), collection("b", "c"), collection("c", "a")])
    assert [c.name for c in order] == ["b", "c", "a"]


@pytest.mark.parametrize(
    ("matched", "size", "sizes"),
    [(0, 5000, []), (1, 5000, [1]), (5000, 5000, [5000]), (12001, 5000, [5000, 5000, 2001])],
)
def test_chunk_plan(matched: int, size: int, sizes: list[int]) -> None:
    plan = ChunkPlan(matched, size)
    assert plan.sizes() == sizes
    assert plan.chunks == len(sizes)
