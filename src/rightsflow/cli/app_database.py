"""The app database for a command that needs only it (no data map, no vault)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from rightsflow.config import Settings
from rightsflow.storage.migrate import make_engine, upgrade_database


@contextmanager
def app_engine(settings: Settings) -> Iterator[Engine]:
    """The app database (the data dir made and the schema migrated first); disposed on leaving."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    upgrade_database(settings.app_database_url)
    engine = make_engine(settings.app_database_url)
    try:
        yield engine
    finally:
        engine.dispose()
