"""`rightsflow datamap introspect` end to end on a SQLite file: draft, review, migrate, re-run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rightsflow.cli.main import app
from tests.integration.introspect_schema import MIGRATION, schema_ddl

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        for statement in schema_ddl("sqlite"):
            conn.execute(statement)
    monkeypatch.chdir(tmp_path)  # the URL below is relative, as a user would type it
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["datamap", "introspect", "sqlite:///app.db", *args])
    return result.exit_code, result.output


def test_draft_review_migrate_and_rerun(workdir: Path) -> None:
    code, output = _run("-o", "map")
    assert code == 0, output
    assert "wrote map/app.yml: 7 collection(s), 41 field(s), 41 marked for review" in output
    systems = yaml.safe_load((workdir / "map" / "systems.yml").read_text())
    assert systems["systems"][0]["config"]["url"] == f"sqlite:///{workdir.resolve()}/app.db"
    assert runner.invoke(app, ["datamap", "validate", "map"]).exit_code == 0

    # A human reviews one field: a finer category, a description, no review marker.
    path = workdir / "map" / "app.yml"
    doc = yaml.safe_load(path.read_text())
    prefs = doc["dataset"][0]["collections"][0]["fields"][6]
    assert prefs["name"] == "preferences"
    prefs["data_categories"] = ["user.account.settings"]
    prefs["description"] = "UI preferences"
    del prefs["fides_meta"]["rightsflow"]["review"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert _run("-o", "map", "--check")[0] == 0

    with sqlite3.connect(workdir / "app.db") as conn:
        for statement in MIGRATION["sqlite"]:
            conn.execute(statement)
    assert _run("-o", "map", "--check")[0] == 1
    code, output = _run("-o", "map")
    assert code == 0, output
    assert output.splitlines()[:3] == [
        "map/app.yml: 2 change(s) since the last run",
        "  + column accounts.phone: VARCHAR(32)",
        "  - column devices.latitude: removed from the database; its annotations are dropped: "
        "unreviewed suggestions only",
    ]
    kept = yaml.safe_load(path.read_text())["dataset"][0]["collections"][0]["fields"][6]
    assert kept["data_categories"] == ["user.account.settings"]
    assert kept["description"] == "UI preferences"
    assert "review" not in kept["fides_meta"]["rightsflow"]
    assert _run("-o", "map", "--check")[0] == 0

    written = path.read_bytes()
    assert _run("-o", "map")[0] == 0
    assert path.read_bytes() == written  # same database, same bytes


def test_an_existing_systems_file_is_never_rewritten(workdir: Path) -> None:
    mapdir = workdir / "map"
    mapdir.mkdir()
    theirs = (
        "systems:\n  - {key: other, connector: sql, datasets: [], config: {url: 'sqlite://'}}\n"
    )
    (mapdir / "systems.yml").write_text(theirs)
    code, output = _run("-o", "map")
    assert code == 0, output
    assert (mapdir / "systems.yml").read_text() == theirs
    assert "map/systems.yml does not bind dataset 'app'; add under `systems:`" in output
    assert "- key: app" in output
    assert "connector: sql" in output


def test_the_dataset_key_and_schema_options_name_the_file(workdir: Path) -> None:
    code, output = _run("-o", "map", "--dataset", "crm", "--schema", "main")
    assert code == 0, output
    doc = yaml.safe_load((workdir / "map" / "crm.yml").read_text())
    assert doc["dataset"][0]["fides_key"] == "crm"
    assert (workdir / "map" / "systems.yml").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-o", "app.db/map"), "app.db is not a directory"),  # under a file
        (("-o", "map", "--dataset", "no spaces"), "dataset key 'no spaces'"),
        (("-o", "map", "--schema", "nope"), "schema 'nope' not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    workdir: Path, args: tuple[str, ...], expected: str
) -> None:
    code, output = _run(*args)
    assert code == 1
    assert expected in output
    assert output.count("\n") == 1, output
    assert not (workdir / "map").exists()


def test_an_unreadable_map_file_is_reported_not_overwritten(workdir: Path) -> None:
    (workdir / "map").mkdir()
    (workdir / "map" / "app.yml").write_text("dataset: [")
    code, output = _run("-o", "map")
    assert code == 1
    assert "map/app.yml: not valid YAML" in output
    assert (workdir / "map" / "app.yml").read_text() == "dataset: ["
