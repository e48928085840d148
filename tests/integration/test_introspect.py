"""`datamap introspect` against real databases: SQLite files, PostgreSQL and MariaDB.

The schema (introspect_schema.py) has composite keys, RESTRICT and composite foreign keys, a
self-reference, unique constraints, nullable and JSON columns and a view.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from rightsflow.cli.main import app
from rightsflow.connectors.sql_introspect import engine_url, introspect_database
from rightsflow.domain.db_schema import DbColumn, DbSchema, DbTable
from rightsflow.domain.planner import plan_request
from rightsflow.services.datamap import load_datamap
from tests.integration.introspect_schema import MIGRATION, TABLES, schema_ddl
from tests.support.mariadb import MariaDbServer, start_mariadb
from tests.support.postgres import PostgresServer, start_postgres

runner = CliRunner()


@dataclass
class Database:
    dialect: str  # the DDL flavour: sqlite, postgresql or mysql
    url: str  # as a user types it: sqlite:///..., postgresql://..., mysql://...
    key: str  # the dataset key `introspect` derives from the URL

    def execute(self, statements: tuple[str, ...] | list[str]) -> None:
        engine = sa.create_engine(engine_url(self.url), poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDbServer]:
    with start_mariadb() as server:
        yield server


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mariadb"]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    name = f"shop_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        database = Database("sqlite", f"sqlite:///{tmp_path / name}.db", name)
    elif request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        server.create_database(name)
        database = Database("postgresql", server.url(name), name)
    else:
        maria: MariaDbServer = request.getfixturevalue("mariadb")
        maria.create_database(name)
        url = maria.url(name).replace("mysql+pymysql://", "mysql://")  # the driver is ours to add
        database = Database("mysql", url, name)
    database.execute(schema_ddl(database.dialect))
    return database


def _table(schema: DbSchema, name: str) -> DbTable:
    found = schema.table(name)
    assert found is not None, name
    return found


def _columns(schema: DbSchema, table: str) -> dict[str, DbColumn]:
    return {c.name: c for c in _table(schema, table).columns}


def test_tables_columns_keys_and_uniques_are_read(db: Database) -> None:
    schema = introspect_database(db.url)
    assert [t.name for t in schema.tables] == list(TABLES)  # sorted, the view left out
    accounts = _columns(schema, "accounts")
    email = accounts["email"]
    assert (email.data_type, email.length, email.nullable, email.unique) == (
        "string",
        255,
        False,
        True,
    )
    assert email.db_type == "VARCHAR(255)"
    kinds = {name: c.data_type for name, c in accounts.items()}
    assert kinds["is_active"] == "boolean"
    assert kinds["preferences"] == "object"
    assert kinds["date_of_birth"] == "string"
    assert accounts["full_name"].nullable
    assert accounts["id"].primary_key
    assert accounts["id"].unique
    assert _table(schema, "addresses").primary_key == ("account_id", "kind")
    assert not _columns(schema, "addresses")["account_id"].unique
    assert not _columns(schema, "order_lines")["sku"].unique
    assert _columns(schema, "orders")["order_number"].unique
    assert _columns(schema, "support_notes")["created_at"].unique
    total = _columns(schema, "orders")["total"]
    assert total.data_type == "float"
    assert total.db_type in ("NUMERIC(10,2)", "DECIMAL(10,2)")
    shipments = _table(schema, "shipments")
    assert [(fk.columns, fk.parent_table, fk.parent_columns) for fk in shipments.foreign_keys] == [
        (("order_id", "line_no"), "order_lines", ("order_id", "line_no"))
    ]
    assert _table(schema, "accounts").parents_of("referred_by") == ("accounts.id",)
    assert not any("COLLATE" in c.db_type for t in schema.tables for c in t.columns)


def _introspect(db: Database, mapdir: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["datamap", "introspect", db.url, "-o", str(mapdir), *extra])
    return result.exit_code, result.output


def _review(path: Path, collection: str, field: str, categories: list[str]) -> None:
    doc = yaml.safe_load(path.read_text())
    (col,) = [c for c in doc["dataset"][0]["collections"] if c["name"] == collection]
    (f,) = [f for f in col["fields"] if f["name"] == field]
    f["data_categories"] = categories
    f["description"] = "reviewed by a human"
    del f["fides_meta"]["rightsflow"]["review"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_the_written_map_validates_and_plans_through_the_foreign_keys(
    db: Database, tmp_path: Path
) -> None:
    mapdir = tmp_path / "map"
    code, output = _introspect(db, mapdir)
    assert code == 0, output
    path = mapdir / f"{db.key}.yml"
    for collection, field in (("order_lines", "sku"), ("shipments", "tracking_code")):
        _review(path, collection, field, ["user.behavior.purchase_history"])
    result = runner.invoke(app, ["datamap", "validate", str(mapdir)])
    assert result.exit_code == 0, result.output
    datamap, policies = load_datamap(mapdir, {}, None)
    plan = plan_request(datamap, policies["default_access"], ["email"])
    waves = {node.address.split(":", 1)[1]: node.wave for node in plan.nodes}
    assert waves == {
        "accounts": 0,
        "addresses": 1,
        "devices": 1,
        "orders": 1,
        "support_notes": 1,
        "order_lines": 2,
        "shipments": 3,  # through the composite foreign key
    }


def test_a_schema_change_is_listed_and_a_reviewed_annotation_survives(
    db: Database, tmp_path: Path
) -> None:
    mapdir = tmp_path / "map"
    assert _introspect(db, mapdir)[0] == 0
    path = mapdir / f"{db.key}.yml"
    _review(path, "accounts", "full_name", ["user.name.first"])
    assert _introspect(db, mapdir, "--check") == (0, f"{path}: up to date\n")

    db.execute(MIGRATION[db.dialect])
    before = path.read_text()
    code, output = _introspect(db, mapdir, "--check")
    assert code == 1
    assert "+ column accounts.phone: VARCHAR(32)" in output
    assert output.endswith(f"{path}: differs from the database\n")
    assert path.read_text() == before  # --check writes nothing
    code, output = _introspect(db, mapdir)
    assert code == 0, output
    assert "+ column accounts.phone: VARCHAR(32)" in output
    assert "- column devices.latitude: removed from the database" in output
    if db.dialect != "sqlite":  # SQLite cannot alter a column's type
        assert (
            "~ column orders.status: length 20 -> 40, db_type VARCHAR(20) -> VARCHAR(40)" in output
        )
    doc = yaml.safe_load(path.read_text())
    (accounts,) = [c for c in doc["dataset"][0]["collections"] if c["name"] == "accounts"]
    full_name = next(f for f in accounts["fields"] if f["name"] == "full_name")
    assert full_name["data_categories"] == ["user.name.first"]
    assert full_name["description"] == "reviewed by a human"
    phone = next(f for f in accounts["fields"] if f["name"] == "phone")
    assert phone["fides_meta"]["identity"] == "phone_number"
    assert _introspect(db, mapdir, "--check")[0] == 0


@pytest.mark.postgres
def test_a_password_is_never_written_nor_printed(postgres: PostgresServer, tmp_path: Path) -> None:
    postgres.create_database("secretive")
    url = postgres.url("secretive").replace("postgres@", "postgres:s3cret-pw@")  # trust auth
    Database("postgresql", url, "secretive").execute(schema_ddl("postgresql"))
    mapdir = tmp_path / "map"
    result = runner.invoke(app, ["datamap", "introspect", url, "-o", str(mapdir)])
    assert result.exit_code == 0, result.output
    assert "set SECRETIVE_DB_PASSWORD" in result.output
    assert "s3cret" not in result.output
    assert not any("s3cret" in p.read_text() for p in mapdir.iterdir())
    systems = yaml.safe_load((mapdir / "systems.yml").read_text())["systems"]
    assert systems[0]["config"]["url"] == (
        f"postgresql://postgres:${{SECRETIVE_DB_PASSWORD}}@127.0.0.1:{postgres.port}/secretive"
    )
    missing = runner.invoke(app, ["datamap", "validate", str(mapdir)])
    assert missing.exit_code == 1
    assert "SECRETIVE_DB_PASSWORD is not set" in missing.output
    ok = runner.invoke(
        app, ["datamap", "validate", str(mapdir)], env={"SECRETIVE_DB_PASSWORD": "s3cret-pw"}
    )
    assert ok.exit_code == 0, ok.output


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["postgresql://bob:s3cret@127.0.0.1:1/shop"], "127.0.0.1:1/shop: connection refused"),
        (["{pg}", "--schema", "nope"], "schema 'nope' not found in the database"),
        (["{pg}/missing_db"], "no such database"),
        (["postgresql://bob:s3cret@[::1"], "not a valid database URL"),
        (["sqlite:///{tmp}/absent.db"], "no SQLite file at"),
    ],
)  # fmt: skip
def test_failures_are_one_line_with_no_password(
    postgres: PostgresServer, tmp_path: Path, args: list[str], expected: str
) -> None:
    pg = postgres.url("postgres").replace("postgres@", "postgres:s3cret@")
    args = [a.format(pg=pg.removesuffix("/postgres"), tmp=tmp_path) for a in args]
    result = runner.invoke(app, ["datamap", "introspect", *args, "-o", str(tmp_path / "map")])
    assert result.exit_code == 1
    assert expected in result.output
    assert result.output.count("\n") == 1, result.output
    assert "s3cret" not in result.output
    assert not (tmp_path / "map").exists()


@pytest.mark.postgres
def test_a_named_schema_is_read_and_bound(postgres: PostgresServer, tmp_path: Path) -> None:
    postgres.create_database("schemas")
    db = Database("postgresql", postgres.url("schemas"), "billing")
    db.execute(["CREATE SCHEMA billing", "SET search_path TO billing", *schema_ddl("postgresql")])
    mapdir = tmp_path / "map"
    result = runner.invoke(
        app, ["datamap", "introspect", db.url, "--schema", "billing", "-o", str(mapdir)]
    )
    assert result.exit_code == 0, result.output
    systems = yaml.safe_load((mapdir / "systems.yml").read_text())["systems"]
    assert systems[0]["config"]["schema"] == "billing"
    assert systems[0]["datasets"] == ["billing"]
    datamap, _ = load_datamap(mapdir, {}, None)
    assert len(datamap.datasets[0].collections) == len(TABLES)
