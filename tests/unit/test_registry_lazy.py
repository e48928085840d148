"""Built-in connectors load on first use: a sql-only process never imports pyarrow & co."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from rightsflow.connectors.base import ConnectorSpec
from rightsflow.connectors.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    ConnectorPluginError,
    ConnectorRegistry,
    builtin_specs,
    default_registry,
)
from rightsflow.connectors.testing import InMemoryConnector
from rightsflow.domain.errors import InvalidInput

HEAVY = ("pyarrow", "pyiceberg", "redis", "fastapi")

# Runs in a fresh interpreter: what a sql-only process (serve, worker, a CLI command) does with
# the registry, from validating the data map to opening its one connector.
SQL_ONLY = """
import json, os, sys
from pathlib import Path
from rightsflow.connectors.pool import ConnectorPool
from rightsflow.connectors.registry import builtin_specs, default_registry
from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap
from rightsflow.services.datamap import load_datamap

tmp = Path(sys.argv[1])
create_shop_sqlite(tmp / "shop.db", customers=3)
write_shop_datamap(tmp / "map", tmp / "shop.db")
registry = default_registry()
datamap, _ = load_datamap(tmp / "map", os.environ, registry.validate_config)
pool = ConnectorPool(registry, datamap)
pool.for_system(datamap.systems[0].key)
pool.close()
if sys.argv[2] == "list":
    builtin_specs()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[3:])))
"""


def _heavy_imported(tmp_path: Path, mode: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SQL_ONLY), str(tmp_path), mode, *HEAVY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    roots = {name.split(".")[0] for name in json.loads(done.stdout)}
    return sorted(roots)


@pytest.mark.slow
def test_a_sql_only_pool_imports_no_other_connector_dependency(tmp_path: Path) -> None:
    assert _heavy_imported(tmp_path, "pool") == []


@pytest.mark.slow
def test_listing_every_builtin_imports_them_all(tmp_path: Path) -> None:
    # The control: the same process imports them once every built-in is asked for.
    assert _heavy_imported(tmp_path, "list") == sorted(HEAVY)


@pytest.mark.slow
def test_the_cli_imports_neither_the_api_nor_temporal_until_a_command_needs_them() -> None:
    # `rightsflow --help` and every command but serve/worker/demo skip ~1.7 s of imports.
    probe = "import sys, json, rightsflow.cli.main; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "typer" in loaded
    assert loaded.isdisjoint({*HEAVY, "temporalio", "uvicorn", "starlette"})


def test_builtins_are_listed_before_they_are_loaded() -> None:
    registry = default_registry(plugins=[])
    assert registry.kinds() == tuple(sorted(BUILTINS))
    assert all(kind in registry for kind in BUILTINS)
    assert "mongo" not in registry
    owner = {"owner": "dpo@example.org", "instructions": "x"}
    assert registry.validate_config("manual", owner) == []
    assert registry.validate_config("manual", {"owner": "dpo@example.org"}) == [
        "instructions: field required"
    ]


def test_a_loaded_builtin_is_the_same_spec_every_time() -> None:
    registry = default_registry(plugins=[])
    specs = {spec.kind: spec for spec in builtin_specs()}
    for kind in BUILTINS:
        assert registry.get(kind) is specs[kind]
        assert registry.get(kind) is registry.get(kind)


def test_a_plugin_cannot_take_a_builtin_name_not_yet_loaded() -> None:
    clone = EntryPoint(name="redis", value=f"{__name__}:REDIS_CLONE", group=ENTRY_POINT_GROUP)
    with pytest.raises(ConnectorPluginError, match="'redis' is already registered"):
        default_registry(plugins=[clone])
    with pytest.raises(InvalidInput, match="already registered"):
        default_registry(plugins=[]).register(REDIS_CLONE)


def test_plugins_load_next_to_lazy_builtins() -> None:
    fake = EntryPoint(name="fake_kv", value=f"{__name__}:FAKE_KV", group=ENTRY_POINT_GROUP)
    registry = default_registry(plugins=[fake])
    assert registry.kinds() == tuple(sorted([*BUILTINS, "fake_kv"]))
    assert isinstance(registry.create("fake_kv", {}), InMemoryConnector)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("rightsflow.connectors.no_such_module:X", "ModuleNotFoundError"),
        ("rightsflow.connectors.sql:NO_SUCH_SPEC", "AttributeError"),
        ("rightsflow.connectors.sql:SqlConfig", "is not a ConnectorSpec of it"),
        ("rightsflow.connectors.redis_kv:REDIS_CONNECTOR", "is not a ConnectorSpec of it"),
    ],
)
def test_a_lazy_kind_that_does_not_load_names_its_target(target: str, reason: str) -> None:
    registry = ConnectorRegistry(lazy={"broken": target})
    assert registry.kinds() == ("broken",)
    with pytest.raises(ConnectorPluginError, match=reason) as caught:
        registry.get("broken")
    assert target in str(caught.value)


def test_a_lazy_kind_must_be_a_valid_kind() -> None:
    with pytest.raises(InvalidInput, match="invalid connector kind"):
        ConnectorRegistry(lazy={"Not-A-Kind": "rightsflow.connectors.sql:SQL_CONNECTOR"})


class _NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _spec(kind: str) -> ConnectorSpec[_NoConfig]:
    return ConnectorSpec(
        kind=kind,
        config_model=_NoConfig,
        factory=lambda _config: InMemoryConnector(),
        capabilities=frozenset({"retrieve"}),
        description=f"a plugin of kind {kind}",
    )


REDIS_CLONE = _spec("redis")  # a plugin claiming a built-in's name
FAKE_KV = _spec("fake_kv")
