"""`rightsflow connectors list` and `rightsflow check` against real SQLite files and a closed
PostgreSQL port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from rightsflow.cli.connectors_cmd import check_systems
from rightsflow.cli.main import app
from rightsflow.connectors import registry as registry_module
from rightsflow.connectors.base import ConnectorSpec
from rightsflow.connectors.registry import ENTRY_POINT_GROUP, ConnectorRegistry, builtin_specs
from rightsflow.connectors.testing import InMemoryConnector
from rightsflow.domain.datamap import System
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap

runner = CliRunner()
SECRET = "hunter2-not-echoed"


class NoConfig(BaseModel):
    pass


class HangingConnector(InMemoryConnector):
    """`check` blocks until the test releases it (a system that never answers)."""

    release = threading.Event()

    def check(self) -> None:
        self.release.wait(30)


class FailingConnector(InMemoryConnector):
    def check(self) -> None:
        raise ConnectorFailure("flaky api: HTTP 503 from the status endpoint")


class BuggyConnector(InMemoryConnector):
    def check(self) -> None:
        raise KeyError(SECRET)


def _spec(kind: str, connector: type[InMemoryConnector]) -> ConnectorSpec[NoConfig]:
    return ConnectorSpec(
        kind=kind,
        config_model=NoConfig,
        factory=lambda _config: connector(),
        capabilities=frozenset({"retrieve"}),
        description=f"test connector {kind}",
    )


HANGING = _spec("hanging", HangingConnector)
FAILING = _spec("failing", FailingConnector)
BUGGY = _spec("buggy", BuggyConnector)
NOT_A_SPEC = object()


def _plugins(*pairs: tuple[str, str]) -> list[EntryPoint]:
    return [EntryPoint(name, f"{__name__}:{target}", ENTRY_POINT_GROUP) for name, target in pairs]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def _map(tmp_path: Path, extra: Iterable[tuple[str, str]]) -> Path:
    db, mapdir = tmp_path / "shop.db", tmp_path / "map"
    create_shop_sqlite(db, customers=3)
    write_shop_datamap(mapdir, db)
    systems = mapdir / "systems.yml"
    text = systems.read_text()
    for key, url in extra:
        text += f"  - key: {key}\n    connector: sql\n    datasets: []\n    config:\n"
        text += f"      url: {json.dumps(url)}\n"
    systems.write_text(text)
    return mapdir


def test_list_shows_builtins_plugins_and_failed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = _plugins(("hanging", "HANGING"), ("broken", "NOT_A_SPEC"), ("nope", "MISSING"))
    monkeypatch.setattr(registry_module, "entry_points", lambda **_: plugins)
    result = runner.invoke(app, ["connectors", "list"])
    assert result.exit_code == 0, result.output
    assert "sql" in result.output
    assert "built-in" in result.output
    assert "hanging" in result.output
    assert "failed plugin broken" in result.output
    assert "failed plugin nope" in result.output

    result = runner.invoke(app, ["connectors", "list", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    kinds = {c["kind"]: c for c in document["connectors"]}
    assert set(kinds) == {spec.kind for spec in builtin_specs()} | {"hanging"}
    assert kinds["sql"]["builtin"] is True
    assert kinds["hanging"] == {
        "kind": "hanging",
        "builtin": False,
        "capabilities": ["retrieve"],
        "description": "test connector hanging",
    }
    failed = {f["name"]: f["reason"] for f in document["failed_plugins"]}
    assert set(failed) == {"broken", "nope"}
    assert "must load a ConnectorSpec, got object" in failed["broken"]
    assert "failed to load: AttributeError" in failed["nope"]


def test_check_reports_each_system_and_exits_1_if_one_is_unreachable(tmp_path: Path) -> None:
    port = _closed_port()
    mapdir = _map(
        tmp_path,
        [
            ("no_dir", f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"),
            ("pg", f"postgresql://app:{SECRET}@127.0.0.1:{port}/app"),
        ],
    )
    result = runner.invoke(app, ["check", str(mapdir)])
    assert result.exit_code == 1, result.output
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["shop"] == "reachable"
    assert lines["no_dir"].startswith("unreachable: sql connector: database unreachable")
    assert lines["pg"].startswith("unreachable: sql connector: database unreachable")
    assert SECRET not in result.output
    assert str(port) not in result.stdout
    assert "2 of 3 system(s) unreachable" in result.stderr


def test_check_exits_0_when_every_system_answers(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(_map(tmp_path, []))])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "shop: reachable"


def test_check_calls_a_missing_sqlite_file_unreachable(tmp_path: Path) -> None:
    mapdir = _map(tmp_path, [("gone", f"sqlite:///{tmp_path / 'gone.db'}")])
    result = runner.invoke(app, ["check", str(mapdir)])
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "gone.db").exists()


def test_check_refuses_an_invalid_map(tmp_path: Path) -> None:
    mapdir = _map(tmp_path, [])
    (mapdir / "systems.yml").write_text("systems: [")
    result = runner.invoke(app, ["check", str(mapdir)])
    assert result.exit_code == 1
    assert "systems.yml" in result.output


def test_checks_run_at_once_with_a_timeout_each() -> None:
    registry = ConnectorRegistry([*builtin_specs(), HANGING, FAILING, BUGGY])
    systems = [
        System(key=f"s_{kind}", connector=kind, datasets=())
        for kind in ("hanging", "failing", "buggy", "hanging")
    ]
    started = time.monotonic()
    try:
        results = check_systems(registry, systems, timeout=0.3)
    finally:
        HangingConnector.release.set()
    assert time.monotonic() - started < 0.55  # two hanging systems, waited for at once
    reasons = {r.system: r.reason for r in results}
    assert [r.system for r in results] == [s.key for s in systems]
    assert reasons["s_hanging"] == "no answer within 0.3 s"
    assert reasons["s_failing"] == "flaky api: HTTP 503 from the status endpoint"
    assert reasons["s_buggy"] == "unexpected error in the connector (KeyError)"
