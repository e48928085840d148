"""The CLI's answers to good and bad data maps (no network, no Temporal needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rightsflow.cli.main import app
from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap

runner = CliRunner()


def _map(tmp_path: Path) -> Path:
    db, mapdir = tmp_path / "shop.db", tmp_path / "map"
    create_shop_sqlite(db, customers=5)
    write_shop_datamap(mapdir, db)
    return mapdir


def test_validate_accepts_the_sample_map(tmp_path: Path) -> None:
    result = runner.invoke(app, ["datamap", "validate", str(_map(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "1 system(s), 1 dataset(s), 7 collection(s)" in result.output


def test_validate_reports_every_problem_with_file_and_location(tmp_path: Path) -> None:
    mapdir = _map(tmp_path)
    shop = mapdir / "shop.yml"
    shop.write_text(
        shop.read_text()
        .replace("user.contact.phone_number", "user.contact.fax")
        .replace("field: orders.id", "field: orders.nope")
    )
    (mapdir / "systems.yml").write_text(
        (mapdir / "systems.yml").read_text().replace("connector: sql", "connector: sqlx")
    )
    result = runner.invoke(app, ["datamap", "validate", str(mapdir)])
    assert result.exit_code == 1
    assert "shop.yml" in result.output
    assert "unknown data category 'user.contact.fax'" in result.output
    assert "reference to unknown shop:orders.nope" in result.output
    assert "systems.yml" in result.output
    assert "sqlx" in result.output


def test_plan_prints_waves_erase_order_and_what_it_left_out(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(_map(tmp_path)), "--policy", "default_erasure"])
    assert result.exit_code == 0, result.output
    assert "shop:customers" in result.output
    assert "erase order (children first)" in result.output
    assert "skipped shop:orders" in result.output


def test_serve_refuses_an_invalid_map_before_listening(tmp_path: Path) -> None:
    mapdir = _map(tmp_path)
    (mapdir / "systems.yml").write_text("systems: [")
    result = runner.invoke(
        app, ["serve", "--data-dir", str(tmp_path / "d"), "--datamap", str(mapdir), "--port", "1"]
    )
    assert result.exit_code == 1
    assert "systems.yml" in result.output
    assert "not valid YAML" in result.output
    assert not (tmp_path / "d" / "rightsflow.db").exists()
