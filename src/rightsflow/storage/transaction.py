"""One connection and one transaction whose audit events are chained and locked at commit.

The unit of work and the smaller transactions (clients, people) share this lifecycle; each
subclass binds its repositories to the connection in `_bind`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.engine import Connection, Engine

from rightsflow.storage.audit_repository import SqlAuditRepository


class AuditedTransaction:
    """`with T(engine) as t: ...; t.commit()`; leaving rolls back whatever was not committed.

    After `commit()` it stays usable: the next statement starts a new transaction. Not
    reentrant and not shared between threads: make one per use.
    """

    audit: SqlAuditRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def _bind(self, connection: Connection) -> None:
        """Create the subclass's repositories on `connection`."""

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("unit of work already entered")
        connection = self._engine.connect()
        self._connection = connection
        self.audit = SqlAuditRepository(connection, deferred=True)
        self._bind(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()

    def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit() outside of `with`")
        self.audit.flush()  # chained and locked last: see storage/audit_repository.py
        self._connection.commit()
