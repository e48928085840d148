"""`rightsflow clients ...` and `rightsflow admin-token rotate` on a real data dir (SQLite)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from rightsflow.cli.main import app
from rightsflow.config import Settings
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import audit_events
from rightsflow.storage.tokens import ensure_admin_token, token_is_valid

runner = CliRunner()


def _run(data_dir: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def _created(output: str) -> tuple[str, str]:
    client_id = re.search(r"client_id:\s+(\S+)", output)
    secret = re.search(r"client_secret:\s+(\S+)", output)
    assert client_id is not None
    assert secret is not None
    return client_id[1], secret[1]


def test_create_list_rotate_revoke(tmp_path: Path) -> None:
    created = _run(tmp_path, "clients", "create", "--name", "billing", "--scopes", "requests:read")
    client_id, secret = _created(created)
    assert secret.startswith("rfs_")
    listed = _run(tmp_path, "clients", "list")
    assert client_id in listed
    assert secret not in listed
    rotated = _run(tmp_path, "clients", "rotate", client_id, "--grace", "30m")
    assert "stop working in 0:30:00" in rotated
    assert _created(f"client_id: x\n{rotated}")[1] != secret
    assert "revoked" in _run(tmp_path, "clients", "revoke", client_id)
    assert "already revoked" in _run(tmp_path, "clients", "revoke", client_id)
    assert "revoked 20" in _run(tmp_path, "clients", "list")


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    bad_scope = runner.invoke(
        app, ["clients", "create", "--name", "x", "--scopes", "root", "--data-dir", str(tmp_path)]
    )
    assert bad_scope.exit_code == 1
    assert "unknown scope 'root'" in bad_scope.output
    missing = runner.invoke(app, ["clients", "revoke", "nope", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines()[-1] == "error: client not found"
    grace = runner.invoke(app, ["clients", "rotate", "x", "--grace", "soon", "--data-dir", "d"])
    assert grace.exit_code == 2


def test_admin_token_rotate_replaces_the_file_and_revokes_the_old_token(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade_database(settings.app_database_url)
    engine = make_engine(settings.app_database_url)
    try:
        old, _ = ensure_admin_token(engine, settings.admin_token_file)
        assert old is not None
        output = _run(tmp_path, "admin-token", "rotate")
        new = settings.admin_token_file.read_text().strip()
        assert str(settings.admin_token_file) in output
        assert new not in output
        assert stat.S_IMODE(settings.admin_token_file.stat().st_mode) == 0o600
        assert token_is_valid(engine, new)
        assert not token_is_valid(engine, old)
        with engine.connect() as conn:
            event = conn.execute(
                sa.select(audit_events).where(audit_events.c.action == "admin_token.rotated")
            ).one()
        assert (event.actor, event.detail["revoked"]) == ("bootstrap:cli", 1)
        assert new not in str(tuple(event))
    finally:
        engine.dispose()
