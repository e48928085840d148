"""Database URLs for introspection: drivers, dataset keys, and what goes into systems.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightsflow.connectors.sql_introspect import (
    default_dataset_key,
    describe,
    engine_url,
    introspect_database,
    shareable_url,
)
from rightsflow.domain.errors import ConnectorFailure


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mariadb+pymysql"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2"),  # an explicit driver stays
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_plain_urls_get_our_drivers(url: str, driver: str) -> None:
    assert engine_url(url).drivername == driver


def test_a_password_becomes_a_variable_and_nothing_else_changes() -> None:
    url, replaced = shareable_url("postgresql://app:p%40ss%2Fw@db.internal:6432/shop", "SHOP_PW")
    assert replaced
    assert url == "postgresql://app:${SHOP_PW}@db.internal:6432/shop"
    url, replaced = shareable_url("mysql://app@db/shop?password=hunter2&charset=utf8mb4", "V")
    assert replaced
    assert "hunter2" not in url
    assert url.startswith("mysql+pymysql://app@db/shop?")
    assert "password=${V}" in url
    assert shareable_url("postgresql://app@db/shop", "V") == ("postgresql://app@db/shop", False)


def test_a_relative_sqlite_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shareable_url("sqlite:///data/app.db", "V") == (
        f"sqlite:///{tmp_path.resolve()}/data/app.db",
        False,
    )


@pytest.mark.parametrize(
    ("url", "schema", "key"),
    [
        ("sqlite:///some/dir/app-prod.db", None, "app_prod"),
        ("postgresql://u@h/shop", None, "shop"),
        ("postgresql://u@h/shop", "billing", "billing"),
        ("postgresql://u@h", None, "database"),
    ],
)
def test_default_dataset_keys(url: str, schema: str | None, key: str) -> None:
    assert default_dataset_key(url, schema) == key


def test_an_unparseable_url_fails_without_echoing_it() -> None:
    with pytest.raises(ConnectorFailure) as exc:
        engine_url("postgresql://bob:hunter2@[::1")
    assert "hunter2" not in str(exc.value)
    assert "bob" not in str(exc.value)


def test_describe_names_the_place_not_the_user() -> None:
    assert describe(engine_url("postgresql://bob:pw@db:5433/shop")) == "postgresql at db:5433/shop"


def test_a_missing_driver_or_file_is_a_clear_failure(tmp_path: Path) -> None:
    with pytest.raises(ConnectorFailure, match="no database driver installed for oracle"):
        introspect_database("oracle://u:pw@h/db")
    with pytest.raises(ConnectorFailure, match="no SQLite file at"):
        introspect_database(f"sqlite:///{tmp_path}/absent.db")
    assert not (tmp_path / "absent.db").exists()  # not created by looking
    (tmp_path / "notes.db").write_text("not a database")
    with pytest.raises(ConnectorFailure, match="not a readable database"):
        introspect_database(f"sqlite:///{tmp_path}/notes.db")
