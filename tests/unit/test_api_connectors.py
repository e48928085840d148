"""/api/v1/connectors and /api/v1/systems: kinds with config schemas; systems without values."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.connectors.testing import in_memory_spec
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.sample.shop import shop_dataset_yaml
from tests.unit.fakes import ApiHarness, api_harness

SECRET = "s3cret-pw"
SYSTEMS_YML = f"""\
systems:
  - key: shop
    connector: sql
    datasets: [shop]
    config:
      url: postgresql://app:{SECRET}@db.internal:5432/shop
      chunk_size: 50
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(tmp_path) as harness:
        yield harness


def test_routes_need_the_admin_token(api: ApiHarness) -> None:
    for url in ("/api/v1/connectors", "/api/v1/systems"):
        response = api.client.get(url, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401, url
        assert api.client.get(url, headers={"Authorization": ""}).status_code == 401


def test_connectors_list_kinds_with_their_config_schema(api: ApiHarness) -> None:
    response = api.client.get("/api/v1/connectors")
    assert response.status_code == 200, response.text
    items = {item["kind"]: item for item in response.json()["items"]}
    sql = items["sql"]
    assert sql["capabilities"] == ["delete", "mask", "retrieve"]
    assert "SQLAlchemy" in sql["description"]
    schema = sql["config_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["url"]
    assert {"url", "schema", "chunk_size", "pool_size", "connect_timeout"} <= set(
        schema["properties"]
    )
    assert schema["properties"]["chunk_size"]["maximum"] == 30_000


def test_connectors_come_from_the_registry_the_app_was_given(api: ApiHarness) -> None:
    registry = ConnectorRegistry([*builtin_specs(), in_memory_spec()])
    api.app.state.deps = dataclasses.replace(api.app.state.deps, registry=registry)
    kinds = [item["kind"] for item in api.client.get("/api/v1/connectors").json()["items"]]
    assert kinds == sorted(registry.kinds())
    assert len(kinds) == len(builtin_specs()) + 1


def test_systems_show_keys_kinds_datasets_and_config_keys_only(api: ApiHarness) -> None:
    datamap = parse_datamap({"shop.yml": shop_dataset_yaml(), "systems.yml": SYSTEMS_YML}, env={})
    platform = dataclasses.replace(api.platform, datamap=datamap)
    api.app.state.deps = dataclasses.replace(api.app.state.deps, platform=platform)
    response = api.client.get("/api/v1/systems")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [
            {
                "key": "shop",
                "kind": "sql",
                "datasets": ["shop"],
                "config_keys": ["chunk_size", "url"],
            }
        ]
    }
    assert SECRET not in response.text
    assert "db.internal" not in response.text
