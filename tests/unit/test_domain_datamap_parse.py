"""Parsing dataset files and systems.yml: every problem collected, with file and location."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from rightsflow.domain.datamap import DataMap, FieldAddress, Reference
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.errors import DataMapInvalid, Problem
from rightsflow.sample.shop import shop_dataset_yaml

DATASET = """\
dataset:
  - fides_key: d
    collections:
      - name: people
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
      - name: visits
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: person_id
            fides_meta:
              references: [{dataset: d, field: people.id, direction: from}]
"""
SYSTEMS = """\
systems:
  - key: main
    connector: sql
    datasets: [d]
    config: {url: "sqlite:///tmp/d.db"}
"""


def _problems(files: Mapping[str, str], env: Mapping[str, str] | None = None) -> list[Problem]:
    with pytest.raises(DataMapInvalid) as exc:
        parse_datamap(files, env or {})
    assert str(len(exc.value.problems)) in str(exc.value)
    return exc.value.problems


def _only(problems: list[Problem], file: str) -> list[Problem]:
    return [p for p in problems if p.file == file]


def test_a_valid_map_parses() -> None:
    dm = parse_datamap({"d.yml": DATASET, "systems.yml": SYSTEMS}, {})
    assert [c.address for c in dm.collections()] == ["d:people", "d:visits"]
    person_id = dm.collection("d:visits").field("person_id")
    assert person_id is not None
    assert person_id.references == (Reference(FieldAddress("d", "people", "id"), "from"),)
    assert dm.collection("d:people").primary_key == ("id",)
    assert dm.identity_types() == {"email"}
    assert dm.system_for("d").key == "main"  # type: ignore[union-attr]
    assert dm.datasets[0].source_file == "d.yml"
    assert dm.warnings == ("d:visits: fields without data categories: person_id",)


def test_yaml_syntax_error_has_a_line_number() -> None:
    broken = "dataset:\n  - fides_key: d\n    name: a: b\n"
    (problem,) = _only(_problems({"d.yml": broken, "systems.yml": SYSTEMS}), "d.yml")
    assert problem.location.startswith("line 3, column ")
    assert "not valid YAML" in problem.message
    assert str(problem).startswith("d.yml: line 3")


@pytest.mark.parametrize("text", ["collections: []\n", "dataset: {fides_key: d}\n", "- 1\n"])
def test_missing_dataset_list(text: str) -> None:
    (problem,) = _only(_problems({"d.yml": text, "systems.yml": SYSTEMS}), "d.yml")
    assert "`dataset:`" in problem.message


def test_empty_file() -> None:
    (problem,) = _only(_problems({"d.yml": "", "systems.yml": SYSTEMS}), "d.yml")
    assert problem.message == "file is empty"


def test_fideslang_error_names_collection_and_field() -> None:
    bad = DATASET.replace("data_type: string", "data_type: strang")
    (problem,) = _only(_problems({"d.yml": bad, "systems.yml": SYSTEMS}), "d.yml")
    assert (
        problem.location
        == "dataset[0].collections[0](people).fields[1](email).fides_meta.data_type"
    )
    assert "strang" in problem.message


def test_all_problems_are_collected_across_files() -> None:
    bad = DATASET.replace("data_type: string", "data_type: strang")
    other = DATASET.replace("fides_key: d", "fides_key: e").replace(
        "user.contact.email", "user.nope"
    )
    problems = _problems({"d.yml": bad, "e.yml": other, "systems.yml": SYSTEMS})
    assert {p.file for p in problems} >= {"d.yml", "e.yml"}


def test_unknown_data_category() -> None:
    bad = DATASET.replace("user.contact.email", "user.contact.emial")
    (problem,) = _problems({"d.yml": bad, "systems.yml": SYSTEMS})
    assert problem.file == "d.yml"
    assert "people" in problem.location
    assert "email" in problem.location
    assert "user.contact.emial" in problem.message


def test_reference_to_unknown_field() -> None:
    bad = DATASET.replace("field: people.id", "field: people.uid")
    (problem,) = _problems({"d.yml": bad, "systems.yml": SYSTEMS})
    assert (problem.file, problem.location) == ("d.yml", "d:visits.person_id")
    assert "d:people.uid" in problem.message


def test_missing_systems_file() -> None:
    problems = _problems({"d.yml": DATASET})
    assert any(p.file == "systems.yml" and "missing" in p.message for p in problems)
    assert any(p.location == "d" and "not bound" in p.message for p in problems)


def test_system_bound_to_unknown_dataset() -> None:
    systems = SYSTEMS.replace("datasets: [d]", "datasets: [d, ghost]")
    (problem,) = _problems({"d.yml": DATASET, "systems.yml": systems})
    assert (problem.file, problem.location) == ("systems.yml", "main")
    assert "ghost" in problem.message


def test_dataset_not_bound() -> None:
    systems = SYSTEMS.replace("datasets: [d]", "datasets: []")
    (problem,) = _problems({"d.yml": DATASET, "systems.yml": systems})
    assert (problem.file, problem.location) == ("d.yml", "d")
    assert "not bound" in problem.message


def test_dataset_bound_twice() -> None:
    second = SYSTEMS.replace("systems:\n", "").replace("key: main", "key: copy")
    (problem,) = _problems({"d.yml": DATASET, "systems.yml": SYSTEMS + second})
    assert (problem.file, problem.location) == ("systems.yml", "copy")
    assert "already bound to main" in problem.message


def test_duplicate_dataset_key() -> None:
    problems = _problems({"a.yml": DATASET, "b.yml": DATASET, "systems.yml": SYSTEMS})
    assert any(p.file == "b.yml" and "also defined in a.yml" in p.message for p in problems)


@pytest.mark.parametrize(
    ("system", "location"),
    [
        ({"connector": "sql", "datasets": ["d"]}, "systems[0].key"),
        ({"key": "bad key!", "connector": "sql", "datasets": ["d"]}, "systems[0].key"),
        ({"key": "k", "datasets": ["d"]}, "systems[0].connector"),
        ({"key": "k", "connector": "sql", "datasets": "d"}, "systems[0].datasets"),
        ({"key": "k", "connector": "sql", "datasets": ["d"], "config": [1]}, "systems[0].config"),
    ],
)
def test_malformed_system(system: dict[str, Any], location: str) -> None:
    text = yaml.safe_dump({"systems": [system]})
    problems = _only(_problems({"d.yml": DATASET, "systems.yml": text}), "systems.yml")
    assert location in {p.location for p in problems}


SECRET_SYSTEMS = """\
systems:
  - key: main
    connector: sql
    datasets: [d]
    config:
      url: "postgresql://app:${DB_PASSWORD}@db:5432/${DB_NAME}"
      api_token: hunter2-literal
      hosts: ["${DB_HOST}", plain]
"""


def test_env_vars_are_expanded() -> None:
    env = {"DB_PASSWORD": "s3cr3t", "DB_NAME": "shop", "DB_HOST": "db1"}
    dm = parse_datamap({"d.yml": DATASET, "systems.yml": SECRET_SYSTEMS}, env)
    config = dm.systems[0].config
    assert config["url"] == "postgresql://app:s3cr3t@db:5432/shop"
    assert config["hosts"] == ["db1", "plain"]
    assert config["api_token"] == "hunter2-literal"


def test_unset_env_var_is_named_and_nothing_else_leaks() -> None:
    env = {"DB_NAME": "shop-db-name", "DB_HOST": "db1"}
    problems = _problems({"d.yml": DATASET, "systems.yml": SECRET_SYSTEMS}, env)
    (problem,) = problems
    assert (problem.file, problem.location) == ("systems.yml", "systems[0].config.url")
    assert "DB_PASSWORD" in problem.message
    text = " ".join(str(p) for p in problems)
    for value in ("shop-db-name", "hunter2", "postgresql", "db1", "5432"):
        assert value not in text


def test_connector_check_messages_carry_the_system_key() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def check(kind: str, config: Mapping[str, Any]) -> list[str]:
        seen.append((kind, dict(config)))
        return ["url: unsupported scheme", "pool_size: must be positive"]

    with pytest.raises(DataMapInvalid) as exc:
        parse_datamap({"d.yml": DATASET, "systems.yml": SYSTEMS}, {}, check)
    assert seen == [("sql", {"url": "sqlite:///tmp/d.db"})]
    assert [(p.file, p.location, p.message) for p in exc.value.problems] == [
        ("systems.yml", "systems[0](main).config", "url: unsupported scheme"),
        ("systems.yml", "systems[0](main).config", "pool_size: must be positive"),
    ]


def test_a_passing_connector_check_adds_nothing() -> None:
    dm = parse_datamap({"d.yml": DATASET, "systems.yml": SYSTEMS}, {}, lambda _k, _c: [])
    assert isinstance(dm, DataMap)


def test_nested_fields_are_flattened_to_dotted_paths() -> None:
    nested = DATASET.replace(
        "      - name: visits\n",
        """\
          - name: profile
            fields:
              - name: nickname
                data_categories: [user.name]
              - name: contact
                fields:
                  - name: phone
                    data_categories: [user.contact.phone_number]
      - name: visits
""",
    )
    dm = parse_datamap({"d.yml": nested, "systems.yml": SYSTEMS}, {})
    people = dm.collection("d:people")
    paths = {f.path: f for f in people.fields}
    assert {"profile", "profile.nickname", "profile.contact", "profile.contact.phone"} <= set(paths)
    assert paths["profile"].has_children
    assert paths["profile.contact"].has_children
    assert paths["profile.contact.phone"].categories == ("user.contact.phone_number",)
    assert paths["profile.contact.phone"].top_level == "profile"
    leaves = {f.path for f in people.leaf_fields()}
    assert "profile" not in leaves
    assert "profile.contact" not in leaves
    assert "profile.nickname" in leaves


def test_the_issue_systems_file_loads() -> None:
    systems = """\
systems:
  - key: shop
    connector: sql
    datasets: [shop]          # fides_key of a dataset file in the same directory
    config:
      url: postgresql://postgres@127.0.0.1:5432/shop   # or sqlite:///abs/path/shop.db
"""
    dm = parse_datamap({"shop.yml": shop_dataset_yaml(), "systems.yml": systems}, {})
    (system,) = dm.systems
    assert (system.key, system.connector, system.datasets) == ("shop", "sql", ("shop",))
    assert system.config == {"url": "postgresql://postgres@127.0.0.1:5432/shop"}
    assert len(list(dm.collections())) == 7
