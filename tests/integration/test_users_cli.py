"""`rightsflow users ...` against a real SQLite app database in a fresh data dir."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from rightsflow.cli.main import app
from rightsflow.storage.migrate import make_engine
from rightsflow.storage.tables import audit_events, users

PASSWORD = "a long enough passphrase"


def test_create_list_set_role_disable(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    cli = CliRunner()
    created = cli.invoke(
        app,
        [
            "users",
            "create",
            "--login",
            "Ann@Ops.example",
            "--role",
            "viewer",
            "--password-stdin",
            *data,
        ],
        input=f"{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    found = re.search(r"created user ([0-9a-f-]{36}) \(viewer\)", created.output)
    assert found is not None
    user_id = found.group(1)
    assert PASSWORD not in created.output

    listed = cli.invoke(app, ["users", "list", *data])
    assert "ann@ops.example" in listed.output
    assert "active" in listed.output

    again = cli.invoke(
        app,
        [
            "users",
            "create",
            "--login",
            "ann@ops.example",
            "--role",
            "viewer",
            "--password-stdin",
            *data,
        ],
        input=f"{PASSWORD}\n",
    )
    assert again.exit_code == 1
    assert "a user with this login exists" in again.output

    role = cli.invoke(app, ["users", "set-role", user_id, "--role", "reviewer", *data])
    assert role.exit_code == 0, role.output
    assert "is now reviewer" in role.output
    bad = cli.invoke(app, ["users", "set-role", user_id, "--role", "admin", *data])
    assert bad.exit_code == 1
    assert "unknown role 'admin'" in bad.output

    disabled = cli.invoke(app, ["users", "disable", user_id, *data])
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in cli.invoke(app, ["users", "list", *data]).output

    engine = make_engine(f"sqlite:///{tmp_path / 'rightsflow.db'}")
    with engine.connect() as conn:
        row = conn.execute(sa.select(users)).mappings().one()
        actions = conn.execute(sa.select(audit_events.c.action, audit_events.c.actor)).all()
    engine.dispose()
    assert row["password_hash"].startswith("$argon2id$")
    assert row["role"] == "reviewer"
    assert [tuple(a) for a in actions] == [
        ("user.created", "cli"),
        ("user.role_changed", "cli"),
        ("user.disabled", "cli"),
    ]


def test_a_short_password_is_refused_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "users",
            "create",
            "--login",
            "ann@ops.example",
            "--role",
            "viewer",
            "--password-stdin",
            "--data-dir",
            str(tmp_path),
        ],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "a password needs at least 12 characters" in result.output


def test_the_prompt_asks_twice(tmp_path: Path) -> None:
    args = ["users", "create", "--login", "ann@ops.example", "--role", "owner"]
    result = CliRunner().invoke(
        app, [*args, "--data-dir", str(tmp_path)], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "(owner)" in result.output
