"""The connector registry: kinds, config validation, plugins from entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from pydantic import BaseModel, ConfigDict

from rightsflow.connectors.base import ConnectorSpec, validate_kind
from rightsflow.connectors.registry import (
    ENTRY_POINT_GROUP,
    ConnectorPluginError,
    ConnectorRegistry,
    default_registry,
    load_plugins,
)
from rightsflow.connectors.sql import SqlConfig, SqlConnector
from rightsflow.connectors.testing import InMemoryConnector
from rightsflow.domain.errors import InvalidInput

BUILTIN_KINDS = ("http_service", "iceberg", "manual", "parquet", "redis", "saas", "sql")


class FakeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str
    port: int = 1


FAKE_SPEC = ConnectorSpec(
    kind="fake_api",
    config_model=FakeConfig,
    factory=lambda _config: InMemoryConnector(),
    capabilities=frozenset({"retrieve"}),
    description="A fake plugin",
)
NOT_A_SPEC = object()


def plugin(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{target}", group=ENTRY_POINT_GROUP)


def test_default_registry_has_the_builtin_sql_connector() -> None:
    registry = default_registry(plugins=[])
    assert registry.kinds() == BUILTIN_KINDS
    spec = registry.get("sql")
    assert spec.capabilities == {"retrieve", "mask", "delete"}
    assert default_registry(plugins=[]) is not registry  # built fresh, nothing global


def test_unknown_kind_lists_the_known_kinds() -> None:
    registry = default_registry(plugins=[plugin("fake_api", "FAKE_SPEC")])
    with pytest.raises(
        InvalidInput,
        match="'mongo'; known kinds: fake_api, " + ", ".join(BUILTIN_KINDS),
    ) as caught:
        registry.get("mongo")
    assert caught.value.field == "connector"


@pytest.mark.parametrize("kind", ["", "Sql", "1sql", "sql-db", "a" * 42, "sql "])
def test_connector_kinds_are_validated(kind: str) -> None:
    with pytest.raises(InvalidInput, match="invalid connector kind"):
        validate_kind(kind)
    with pytest.raises(InvalidInput):
        ConnectorSpec(kind, FakeConfig, lambda _c: InMemoryConnector(), frozenset(), "x")


def test_spec_rejects_unknown_capabilities() -> None:
    with pytest.raises(InvalidInput, match="unknown capabilities"):
        ConnectorSpec("x", FakeConfig, lambda _c: InMemoryConnector(), frozenset({"erase"}), "")


def test_a_kind_registers_once() -> None:
    registry = ConnectorRegistry([FAKE_SPEC])
    with pytest.raises(InvalidInput, match="already registered"):
        registry.register(FAKE_SPEC)


def test_config_validation_messages_name_fields_and_hide_values() -> None:
    registry = default_registry(plugins=[])
    assert registry.validate_config("sql", {"url": "sqlite:///x.db"}) == []
    assert registry.validate_config("sql", {}) == ["url: field required"]
    secret = "postgresql://app:hunter2@db/shop"
    problems = registry.validate_config(
        "sql", {"url": secret, "chunk_size": 0, "pool_size": "many", "password": "hunter2"}
    )
    assert problems == [
        "chunk_size: input should be greater than or equal to 1",
        "pool_size: input should be a valid integer, unable to parse string as an integer",
        "password: extra inputs are not permitted",
    ]
    bad_url = registry.validate_config("sql", {"url": "::not a url hunter2::"})
    assert bad_url == ["url: not a valid database URL (e.g. postgresql://user@host/db or "
                       "sqlite:///path)"]  # fmt: skip
    with pytest.raises(InvalidInput, match="chunk_size") as caught:
        registry.create("sql", {"url": secret, "chunk_size": 0})
    assert "hunter2" not in str(caught.value)


def test_create_builds_a_configured_connector() -> None:
    registry = default_registry(plugins=[])
    connector = registry.create("sql", {"url": "sqlite://", "schema": "main", "chunk_size": 7})
    assert isinstance(connector, SqlConnector)
    connector.close()


def test_sql_config_maps_plain_postgres_urls_to_psycopg3() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db"):
        assert SqlConfig(url=url).engine_url().drivername == "postgresql+psycopg"
    explicit = SqlConfig(url="postgresql+psycopg://u@h/db").engine_url()
    assert explicit.drivername == "postgresql+psycopg"
    assert SqlConfig(url="sqlite:////tmp/x.db").engine_url().drivername == "sqlite"
    config = SqlConfig.model_validate({"url": "postgresql://u:hunter2@h/db", "schema": "crm"})
    assert config.db_schema == "crm"
    assert "hunter2" not in repr(config)


def test_plugins_load_from_entry_points() -> None:
    registry = ConnectorRegistry()
    load_plugins(registry, [plugin("fake_api", "FAKE_SPEC")])
    assert registry.kinds() == ("fake_api",)
    assert registry.validate_config("fake_api", {"port": "x"}) == [
        "token: field required",
        "port: input should be a valid integer, unable to parse string as an integer",
    ]
    assert isinstance(registry.create("fake_api", {"token": "t"}), InMemoryConnector)


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        (
            EntryPoint("broken", "rightsflow_no_such_module:SPEC", ENTRY_POINT_GROUP),
            r"'broken' \(rightsflow_no_such_module:SPEC.* failed to load: ModuleNotFoundError",
        ),
        (plugin("fake_api", "MISSING"), "'fake_api' .* failed to load: AttributeError"),
        (plugin("fake_api", "NOT_A_SPEC"), "must load a ConnectorSpec, got object"),
        (plugin("other", "FAKE_SPEC"), "declares kind 'fake_api'; the entry point must be named"),
        (plugin("Bad-Name", "FAKE_SPEC"), "'Bad-Name'.*invalid connector kind"),
    ],
)
def test_a_broken_plugin_is_reported_by_its_entry_point(
    entry_point: EntryPoint, message: str
) -> None:
    with pytest.raises(ConnectorPluginError, match=message) as caught:
        default_registry(plugins=[entry_point])
    assert ENTRY_POINT_GROUP in str(caught.value)


def test_a_plugin_cannot_replace_a_builtin() -> None:
    sql_clone = plugin("sql", "SQL_CLONE")
    with pytest.raises(ConnectorPluginError, match="'sql' is already registered"):
        default_registry(plugins=[sql_clone])


SQL_CLONE = ConnectorSpec(
    kind="sql",
    config_model=FakeConfig,
    factory=lambda _config: InMemoryConnector(),
    capabilities=frozenset({"retrieve"}),
    description="pretends to be sql",
)


def test_installed_plugins_are_discovered() -> None:
    # Nothing is installed in the group in this repository: just the built-ins.
    assert default_registry().kinds() == BUILTIN_KINDS
