"""`rightsflow users ...`: people who sign in to the console, and their roles.

Passwords come from a prompt (typed twice, not echoed) or from standard input with
`--password-stdin`; never from a flag, whose value would sit in the shell history and in
every process listing. The audit trail names these changes' actor `cli`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from rightsflow.bootstrap import utc_now
from rightsflow.cli.app_database import app_engine
from rightsflow.cli.common import fail, guarded, settings_from
from rightsflow.config import Settings
from rightsflow.domain.access import parse_role
from rightsflow.domain.people import SessionRules, User
from rightsflow.services import users
from rightsflow.services.passwords import Passwords
from rightsflow.services.ports import Clock
from rightsflow.services.users import People
from rightsflow.storage.user_repository import SqlPeopleUnitOfWorkFactory

app = typer.Typer(help="People who sign in to the console, and their roles.", no_args_is_help=True)
out = Console()
T = TypeVar("T")
CLI_ACTOR = "cli"  # whoever can run this command can read the data dir: an owner in effect

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
UserIdArg = Annotated[str, typer.Argument(help="The user's id (see `users list`).")]
RoleOpt = Annotated[
    str, typer.Option("--role", help="owner | privacy_operator | reviewer | viewer")
]


def session_rules(settings: Settings) -> SessionRules:
    return SessionRules(
        idle=timedelta(minutes=settings.session_idle_minutes),
        max_age=timedelta(hours=settings.session_max_hours),
        max_failed_logins=settings.max_failed_logins,
        lockout=timedelta(minutes=settings.lockout_minutes),
    )


def people_for(settings: Settings, engine: Engine, clock: Clock = utc_now) -> People:
    """The people use cases over the app database (used by `serve` too)."""
    return People(SqlPeopleUnitOfWorkFactory(engine), clock, Passwords(), session_rules(settings))


def _run(config: Path | None, data_dir: Path | None, call: Callable[[People], T]) -> T:
    def work() -> T:
        settings = settings_from(config, data_dir=data_dir)
        with app_engine(settings) as engine:
            return call(people_for(settings, engine))

    return guarded(work)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input")
        return password
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


@app.command()
def create(
    login: Annotated[str, typer.Option("--login", help="The person's staff email.")],
    role: RoleOpt,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add a person who may sign in to the console."""
    chosen = guarded(lambda: parse_role(role))
    password = _read_password(password_stdin)
    user = _run(config, data_dir, lambda p: users.create(p, login, chosen, password, CLI_ACTOR))
    out.print(f"created user {user.id} ({user.role.value})", highlight=False)


@app.command("list")
def list_(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Everyone who may sign in (and who was disabled)."""
    found = _run(config, data_dir, users.list_users)
    table = Table("id", "login", "role", "status", box=None)
    now = utc_now()
    for user in found:
        table.add_row(user.id, user.login, user.role.value, _status(user, now))
    out.print(table)


def _status(user: User, now: datetime) -> str:
    if user.disabled:
        return "disabled"
    return "locked" if user.locked(now) else "active"


@app.command("set-role")
def set_role(
    user_id: UserIdArg, role: RoleOpt, data_dir: DataDirOpt = None, config: ConfigOpt = None
) -> None:
    """Give a person another role (effective on their next call)."""
    chosen = guarded(lambda: parse_role(role))
    user = _run(config, data_dir, lambda p: users.update(p, user_id, CLI_ACTOR, role=chosen))
    out.print(f"user {user.id} is now {user.role.value}", highlight=False)


@app.command()
def disable(user_id: UserIdArg, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Stop a person signing in; their sessions end at once."""
    user = _run(config, data_dir, lambda p: users.update(p, user_id, CLI_ACTOR, disabled=True))
    out.print(f"user {user.id} is disabled", highlight=False)
