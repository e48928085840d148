"""The app database for a command that needs only it (no data map, no vault)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from rightsflow.bootstrap import open_databases
from rightsflow.config import Settings


@contextmanager
def app_engine(settings: Settings) -> Iterator[Engine]:
    """The app database, migrated as a start would (older data keys moved to the key database
    first, which revision 0007 needs); disposed on leaving."""
    engine, keys = open_databases(settings)
    try:
        yield engine
    finally:
        engine.dispose()
        keys.engine.dispose()
