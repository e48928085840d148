"""Unit of work: the repositories over one Connection and one transaction."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from rightsflow.storage.bulk_repository import SqlBulkRepository
from rightsflow.storage.call_repository import SqlCallRepository
from rightsflow.storage.consent_catalog_repository import SqlConsentCatalogRepository
from rightsflow.storage.consent_repository import SqlConsentLedgerRepository
from rightsflow.storage.consent_state_queries import SqlConsentStateQueries
from rightsflow.storage.consent_subject_rows import SqlConsentSubjectRows
from rightsflow.storage.delivery_repository import SqlDeliveryRepository
from rightsflow.storage.drp_repository import SqlDrpRepository
from rightsflow.storage.experiment_repository import SqlExperimentRepository
from rightsflow.storage.identity_repository import SqlIdentityHashRepository
from rightsflow.storage.report_queries import SqlReportSource
from rightsflow.storage.repositories import (
    SqlRequestRepository,
    SqlResultRepository,
)
from rightsflow.storage.request_queue import SqlRequestQueue
from rightsflow.storage.retention_repository import SqlRetentionRepository
from rightsflow.storage.transaction import AuditedTransaction
from rightsflow.storage.verification_repository import SqlVerificationRepository


class SqlUnitOfWork(AuditedTransaction):
    """`with SqlUnitOfWork(engine) as uow: ...; uow.commit()`; leaving rolls back the rest.

    After `commit()` the unit of work stays usable: the next statement starts a new transaction.
    Not reentrant and not shared between threads: make one per use (see SqlUnitOfWorkFactory).
    """

    requests: SqlRequestRepository
    results: SqlResultRepository
    calls: SqlCallRepository
    drp: SqlDrpRepository
    reports: SqlReportSource
    verifications: SqlVerificationRepository
    retention: SqlRetentionRepository
    identities: SqlIdentityHashRepository
    bulk: SqlBulkRepository
    consent_catalog: SqlConsentCatalogRepository
    consent: SqlConsentLedgerRepository
    consent_states: SqlConsentStateQueries
    experiments: SqlExperimentRepository
    consent_subjects: SqlConsentSubjectRows
    deliveries: SqlDeliveryRepository
    request_queue: SqlRequestQueue

    def _bind(self, connection: Connection) -> None:
        self.requests = SqlRequestRepository(connection)
        self.results = SqlResultRepository(connection)
        self.calls = SqlCallRepository(connection)
        self.drp = SqlDrpRepository(connection)
        self.reports = SqlReportSource(connection)
        self.verifications = SqlVerificationRepository(connection)
        self.retention = SqlRetentionRepository(connection)
        self.identities = SqlIdentityHashRepository(connection)
        self.bulk = SqlBulkRepository(connection)
        self.consent_catalog = SqlConsentCatalogRepository(connection)
        self.consent = SqlConsentLedgerRepository(connection)
        self.consent_states = SqlConsentStateQueries(connection)
        self.experiments = SqlExperimentRepository(connection)
        self.consent_subjects = SqlConsentSubjectRows(connection)
        self.deliveries = SqlDeliveryRepository(connection)
        self.request_queue = SqlRequestQueue(connection)


class SqlUnitOfWorkFactory:
    """Callable returning a fresh SqlUnitOfWork for each use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
