"""Settings: flag > RIGHTSFLOW_* environment > TOML file > default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from rightsflow.config import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RIGHTSFLOW_* variable from the outside, and no stray files in the working dir."""
    for name in list(os.environ):
        if name.upper().startswith("RIGHTSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rightsflow.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert settings.port == 8000
    assert settings.task_queue == "rightsflow"
    assert settings.temporal_address is None
    assert settings.database_url is None
    assert settings.step_max_attempts == 8


def test_toml_beats_default(tmp_path: Path) -> None:
    settings = load_settings(_toml(tmp_path, 'port = 9001\ntask_queue = "from-file"\n'))
    assert settings.port == 9001
    assert settings.task_queue == "from-file"
    assert settings.host == "127.0.0.1"  # not in the file: default


def test_env_beats_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSFLOW_PORT", "9002")
    settings = load_settings(_toml(tmp_path, 'port = 9001\ntask_queue = "from-file"\n'))
    assert settings.port == 9002
    assert settings.task_queue == "from-file"


def test_flag_beats_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSFLOW_PORT", "9002")
    monkeypatch.setenv("RIGHTSFLOW_TASK_QUEUE", "from-env")
    config = _toml(tmp_path, 'port = 9001\ntask_queue = "from-file"\nhost = "0.0.0.0"\n')
    settings = load_settings(config, port=9003, task_queue=None)
    assert settings.port == 9003  # flag
    assert settings.task_queue == "from-env"  # a None flag means "not given"
    assert settings.host == "0.0.0.0"  # noqa: S104 - only the file sets it


def test_flag_beats_env_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSFLOW_TEMPORAL_NAMESPACE", "from-env")
    assert load_settings().temporal_namespace == "from-env"
    assert load_settings(temporal_namespace="flag").temporal_namespace == "flag"


def test_env_is_parsed_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSFLOW_LOG_JSON", "true")
    monkeypatch.setenv("RIGHTSFLOW_STEP_TIMEOUT_S", "12.5")
    settings = load_settings()
    assert settings.log_json is True
    assert settings.step_timeout_s == 12.5
    monkeypatch.setenv("RIGHTSFLOW_PORT", "70000")
    with pytest.raises(ValidationError):
        load_settings()


def test_unknown_key_in_the_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as exc:
        load_settings(_toml(tmp_path, "port = 9001\ndatabse_url = 'typo'\n"))
    assert "databse_url" in str(exc.value)


def test_invalid_value_in_the_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(_toml(tmp_path, "step_max_attempts = 0\n"))


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_settings(missing)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path)  # a directory is not a config file


def test_app_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.app_database_url == f"sqlite:///{tmp_path / 'data' / 'rightsflow.db'}"
    assert settings.app_database_url.startswith("sqlite:////")  # absolute path
    given = load_settings(data_dir=tmp_path, database_url="postgresql://db/rf")
    assert given.app_database_url == "postgresql://db/rf"


def test_data_dir_is_made_absolute(tmp_path: Path) -> None:
    settings = Settings(data_dir=Path("relative-data"))
    assert settings.data_dir == (tmp_path / "relative-data").resolve()
    assert settings.data_dir.is_absolute()
    assert settings.secret_key_file == settings.data_dir / "secret.key"
    assert settings.packages_dir == settings.data_dir / "packages"
    assert settings.admin_token_file.parent == settings.data_dir


def test_data_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSFLOW_DATA_DIR", str(tmp_path / "env-data"))
    settings = load_settings()
    assert settings.data_dir == (tmp_path / "env-data").resolve()
    assert str(settings.data_dir) in settings.app_database_url


def test_settings_without_a_file_ignore_a_toml_in_the_working_dir(tmp_path: Path) -> None:
    _toml(tmp_path, "port = 9001\n")
    (tmp_path / "config.toml").write_text("port = 9001\n", encoding="utf-8")
    assert load_settings().port == 8000
