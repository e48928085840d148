"""load_datamap with a policies file: problems with file and line, and masking warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightsflow.domain.errors import DataMapInvalid
from rightsflow.sample.shop import write_shop_datamap
from rightsflow.services.datamap import leaf_field_addresses, load_datamap


def _map(tmp_path: Path, policies: str | None) -> Path:
    mapdir = tmp_path / "map"
    write_shop_datamap(mapdir, tmp_path / "shop.db")
    if policies is not None:
        (mapdir / "policies.yml").write_text(policies, encoding="utf-8")
    return mapdir


def test_a_field_override_must_name_a_field_of_the_map(tmp_path: Path) -> None:
    policies = """\
policies:
  - key: p
    type: erasure
    targets: [user.contact]
    masking:
      - {field: "shop:customers.email", strategy: hash}
      - {field: "shop:customers.nickname", strategy: hash}
"""
    with pytest.raises(DataMapInvalid) as exc:
        load_datamap(_map(tmp_path, policies), {}, None)
    (problem,) = exc.value.problems
    assert (problem.file, problem.location) == (
        "policies.yml",
        "line 7: policies[0].masking[1].field",
    )
    assert "shop:customers.nickname" in problem.message


def test_data_map_and_policy_problems_come_together(tmp_path: Path) -> None:
    mapdir = _map(tmp_path, "policies:\n  - {key: p, type: erasure, targets: [user.nope]}\n")
    shop = mapdir / "shop.yml"
    shop.write_text(shop.read_text().replace("user.contact.phone_number", "user.contact.fax"))
    with pytest.raises(DataMapInvalid) as exc:
        load_datamap(mapdir, {}, None)
    files = {p.file for p in exc.value.problems}
    assert files == {"shop.yml", "policies.yml"}
    assert any(p.location == "line 2: policies[0].targets[0]" for p in exc.value.problems)


def test_a_yaml_error_in_the_policies_file(tmp_path: Path) -> None:
    with pytest.raises(DataMapInvalid) as exc:
        load_datamap(_map(tmp_path, "policies: [\n"), {}, None)
    (problem,) = exc.value.problems
    assert problem.file == "policies.yml"
    assert problem.location.startswith("line 2")


def test_rules_that_cannot_fit_their_column_are_warnings(tmp_path: Path) -> None:
    policies = """\
policies:
  - key: pseudonymise
    type: erasure
    targets: [user.contact.email]
    masking:
      - {category: user.contact.email, strategy: encrypt}
      - {field: "shop:addresses.customer_id", strategy: encrypt}
"""
    datamap, loaded = load_datamap(_map(tmp_path, policies), {}, None)
    assert "pseudonymise" in loaded
    mine = [w for w in datamap.warnings if w.startswith("policy pseudonymise:")]
    assert mine == [
        "policy pseudonymise: shop:addresses.customer_id: "
        "strategy 'encrypt' needs a text column, not integer"
    ]


def test_the_sample_map_loads_with_every_default_policy(tmp_path: Path) -> None:
    datamap, policies = load_datamap(_map(tmp_path, None), {}, None)
    assert {"default_erasure", "default_restriction"} <= set(policies)
    assert "shop:customers.email" in leaf_field_addresses(datamap)
    assert not any(w.startswith("policy default_erasure") for w in datamap.warnings)


def test_warnings_use_the_column_facts_of_the_map(tmp_path: Path) -> None:
    mapdir = _map(tmp_path, None)
    shop = mapdir / "shop.yml"
    email = """\
          - name: email
            data_categories: [user.contact.email]
            fides_meta:
              identity: email
              data_type: string
"""
    unique = "              rightsflow: {unique: true}\n"
    shop.write_text(shop.read_text().replace(email + unique, email))
    assert email in shop.read_text()
    facts = "              rightsflow: {nullable: false, unique: true, db_type: VARCHAR(12)}\n"
    shop.write_text(shop.read_text().replace(email, email + facts))
    datamap, _ = load_datamap(mapdir, {}, None)
    assert (
        "policy default_erasure: shop:customers.email: strategy 'null' on a NOT NULL column: "
        "use another strategy"
    ) in datamap.warnings
