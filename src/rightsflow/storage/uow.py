"""Unit of work: the repositories over one Connection and one transaction."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import Connection, Engine

from rightsflow.storage.audit_repository import SqlAuditRepository
from rightsflow.storage.call_repository import SqlCallRepository
from rightsflow.storage.drp_repository import SqlDrpRepository
from rightsflow.storage.identity_repository import SqlIdentityHashRepository
from rightsflow.storage.report_queries import SqlReportSource
from rightsflow.storage.repositories import (
    SqlRequestRepository,
    SqlResultRepository,
)
from rightsflow.storage.retention_repository import SqlRetentionRepository
from rightsflow.storage.verification_repository import SqlVerificationRepository


class SqlUnitOfWork:
    """`with SqlUnitOfWork(engine) as uow: ...; uow.commit()`; leaving rolls back the rest.

    After `commit()` the unit of work stays usable: the next statement starts a new transaction.
    Not reentrant and not shared between threads: make one per use (see SqlUnitOfWorkFactory).
    """

    requests: SqlRequestRepository
    results: SqlResultRepository
    audit: SqlAuditRepository
    calls: SqlCallRepository
    drp: SqlDrpRepository
    reports: SqlReportSource
    verifications: SqlVerificationRepository
    retention: SqlRetentionRepository
    identities: SqlIdentityHashRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        if self._connection is not None:
            raise RuntimeError("unit of work already entered")
        connection = self._engine.connect()
        self._connection = connection
        self.requests = SqlRequestRepository(connection)
        self.results = SqlResultRepository(connection)
        self.audit = SqlAuditRepository(connection, deferred=True)
        self.calls = SqlCallRepository(connection)
        self.drp = SqlDrpRepository(connection)
        self.reports = SqlReportSource(connection)
        self.verifications = SqlVerificationRepository(connection)
        self.retention = SqlRetentionRepository(connection)
        self.identities = SqlIdentityHashRepository(connection)
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


class SqlUnitOfWorkFactory:
    """Callable returning a fresh SqlUnitOfWork for each use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
