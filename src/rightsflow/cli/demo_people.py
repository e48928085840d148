"""The demo's console person: an owner whose password is written to the data dir (0600), as the
admin token is, so `rightsflow demo` shows a console one can sign in to at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from rightsflow.cli.app_database import app_engine
from rightsflow.cli.users_cmd import CLI_ACTOR, people_for
from rightsflow.config import Settings
from rightsflow.domain.access import Role
from rightsflow.services import users
from rightsflow.storage.private_files import write_private_file

DEMO_LOGIN = "owner@demo.example"
SIGN_IN_FILE = "console-password"  # holds the demo owner's password


@dataclass(frozen=True)
class DemoPerson:
    login: str
    password_file: Path


def ensure_demo_person(settings: Settings) -> DemoPerson:
    """Create the owner once (when nobody can sign in yet); later runs keep what exists."""
    password_file = settings.data_dir / SIGN_IN_FILE
    with app_engine(settings) as engine:
        people = people_for(settings, engine)
        if not users.list_users(people):
            password = secrets.token_urlsafe(18)
            write_private_file(password_file, (password + "\n").encode())
            users.create(people, DEMO_LOGIN, Role.OWNER, password, CLI_ACTOR)
    return DemoPerson(DEMO_LOGIN, password_file)
