"""The ports services talk to. Adapters live in storage/, workflows/ and the composition roots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from rightsflow.domain.audit_chain import AuditFilter, StoredEvent
from rightsflow.domain.bulk import BulkStatus
from rightsflow.domain.bulk_jobs import BulkJob, ChunkTally, SubjectRecord
from rightsflow.domain.connector import Connector, SystemConnector
from rightsflow.domain.drp_status import DrpRequestRecord
from rightsflow.domain.records import AuditEvent, NodeResult, RequestFilter, SystemCallRecord
from rightsflow.domain.reports import RequestFacts
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.domain.verification import Challenge
from rightsflow.services.consent_ports import (
    ConsentCatalogRepository,
    ConsentLedgerRepository,
    ConsentSubjectRows,
    DeliveryRepository,
    ExperimentRepository,
)
from rightsflow.services.consent_read_ports import ConsentStateQueries
from rightsflow.services.request_queue_ports import RequestQueue

__all__ = [
    "AuditEvent",
    "AuditRepository",
    "BulkRepository",
    "BulkStarter",
    "CallRepository",
    "Clock",
    "Connectors",
    "NodeResult",
    "Notifier",
    "PackageStore",
    "ReportSource",
    "RequestFilter",
    "RequestRepository",
    "ResultRepository",
    "RetentionRepository",
    "UnitOfWork",
    "Vault",
    "VerificationRepository",
    "WorkflowStarter",
]

Clock = Callable[[], datetime]


class RequestRepository(Protocol):
    def add(self, request: PrivacyRequest, sealed_identities: bytes) -> None: ...
    def get(self, request_id: str) -> PrivacyRequest:
        """Raises NotFound."""
        ...

    def save(self, request: PrivacyRequest) -> None: ...
    def by_idempotency_key(self, key: str) -> PrivacyRequest | None: ...
    def sealed_identities(self, request_id: str) -> bytes: ...
    def save_plan(self, request_id: str, plan: dict[str, Any]) -> None: ...
    def plan(self, request_id: str) -> dict[str, Any] | None: ...
    def plans(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Many requests' plans in one read (unknown ids are left out)."""
        ...

    def list(
        self, filters: RequestFilter, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[PrivacyRequest]:
        """Newest first; `after` is the (received_at, id) of the last item of the previous page."""
        ...

    def unfinished(self) -> Sequence[PrivacyRequest]:
        """Requests in RECEIVED or EXECUTING (to resume after a restart)."""
        ...


class ResultRepository(Protocol):
    def get(self, request_id: str, address: str, phase: str) -> NodeResult | None: ...
    def put(self, result: NodeResult) -> None:
        """Insert or replace the result for (request_id, address, phase)."""
        ...

    def for_request(self, request_id: str) -> Sequence[NodeResult]: ...
    def for_requests(self, request_ids: Sequence[str]) -> Sequence[NodeResult]:
        """Many requests' results in one read."""
        ...

    def clear(
        self, request_id: str, phases: Sequence[str], addresses: Sequence[str] | None = None
    ) -> None:
        """Forget these phases' results (of `addresses` only, if given); clearing "retrieve"
        also drops the result pages."""
        ...

    def put_page(self, request_id: str, address: str, page: int, sealed: bytes, rows: int) -> None:
        """Insert or replace page `page` (0, 1, ...) of a retrieve result (`rows` rows in it)."""
        ...

    def pages(self, request_id: str, address: str) -> Iterator[bytes]:
        """The sealed pages in page order, one at a time. Consume it inside the unit of work."""
        ...

    def clear_pages(self, request_id: str, address: str, from_page: int = 0) -> None:
        """Drop pages numbered `from_page` and up (a rerun that found fewer rows drops the rest)."""
        ...


class AuditRepository(Protocol):
    def append(self, event: AuditEvent) -> None:
        """Add to the hash-chained trail (written at commit at the latest)."""
        ...

    def for_request(self, request_id: str) -> Sequence[AuditEvent]: ...
    def for_requests(self, request_ids: Sequence[str]) -> Sequence[AuditEvent]:
        """Many requests' events in one read, oldest first."""
        ...

    def search(self, filters: AuditFilter, after: int | None, limit: int) -> Sequence[StoredEvent]:
        """Events matching `filters` with id > `after`, lowest id first, with their hashes."""
        ...


class CallRepository(Protocol):
    def put(self, call: SystemCallRecord) -> None:
        """Insert or replace the call for (request, system, operation)."""
        ...

    def get(self, call_id: str) -> SystemCallRecord: ...
    def find(self, request_id: str, system: str, operation: str) -> SystemCallRecord | None: ...
    def for_request(self, request_id: str) -> Sequence[SystemCallRecord]: ...
    def awaiting(self, assignee: str | None = None) -> Sequence[SystemCallRecord]:
        """Calls still waiting for an answer (pending or overdue), soonest due first."""
        ...


class VerificationRepository(Protocol):
    def get(self, request_id: str, *, lock: bool = False) -> Challenge | None:
        """`lock`: hold the row until the unit of work ends (SELECT ... FOR UPDATE where the
        database has it), so concurrent guesses cannot both count from the same attempts."""
        ...

    def put(self, challenge: Challenge) -> None:
        """Insert or replace the request's challenge (one per request)."""
        ...


class ReportSource(Protocol):
    def request_facts(
        self, start: datetime, end: datetime, regimes: Sequence[str] | None = None
    ) -> Iterator[RequestFacts]:
        """Facts of the requests received in [start, end) (of these regimes only, if given),
        streamed in no particular order. Consume it inside the unit of work."""
        ...


class DrpRepository(Protocol):
    """Data Rights Protocol state: agent tokens (hashes), seen messages, agent requests."""

    def pair(self, agent_id: str, token_hash: str, version: str, at: datetime) -> None: ...
    def agent_for_token(self, token_hash: str) -> str | None: ...
    def remember_message(
        self, digest: str, agent_id: str, expires_at: datetime, now: datetime
    ) -> bool:
        """False when the message was seen before (a replay)."""
        ...

    def add_request(self, record: DrpRequestRecord) -> None: ...
    def request(self, request_id: str) -> DrpRequestRecord | None: ...
    def notified(self, request_id: str, fingerprint: str, at: datetime) -> None: ...


class RetentionRepository(Protocol):
    """The records of closed requests whose retention period is over (services/retention.py)."""

    def closed_before(self, cutoff: datetime, after: str | None, limit: int) -> Sequence[str]:
        """Ids (ascending, greater than `after`) of requests closed before `cutoff` whose
        records are not purged yet."""
        ...

    def count_closed_before(self, cutoff: datetime) -> int: ...
    def held(self, request_ids: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        """Per request, the rows it still has per table (tables with none left out)."""
        ...

    def purge(self, request_ids: Sequence[str]) -> Mapping[str, Mapping[str, int]]:
        """Delete the requests' rows in every table that belongs to a request, and keep of the
        request row only its non-personal facts. Returns `held` (before deleting) of the
        requests this call purged; ones already purged (e.g. by a concurrent run) are left out."""
        ...

    def settle(self) -> None:
        """After purging: let the database drop leftover copies of deleted bytes where it can
        (SQLite: checkpoint and truncate the write-ahead log). Outside any write."""
        ...


class IdentityHashRepository(Protocol):
    """Keyed hashes of request identities (services/identity_lookup.py), never the values."""

    def add(self, request_id: str, hashes: Mapping[str, str]) -> None:
        """Record the request's identity hashes, kind -> hash."""
        ...

    def request_ids(self, kind: str, digest: str, limit: int) -> Sequence[str]:
        """Ids of requests with an identity of `kind` hashing to `digest`, oldest first."""
        ...


class UnitOfWork(Protocol):
    # Read-only, so an adapter may expose its concrete repository types.
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def results(self) -> ResultRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def calls(self) -> CallRepository: ...
    @property
    def drp(self) -> DrpRepository: ...
    @property
    def reports(self) -> ReportSource: ...
    @property
    def verifications(self) -> VerificationRepository: ...
    @property
    def retention(self) -> RetentionRepository: ...
    @property
    def identities(self) -> IdentityHashRepository: ...
    @property
    def bulk(self) -> BulkRepository: ...
    @property
    def consent_catalog(self) -> ConsentCatalogRepository: ...
    @property
    def consent(self) -> ConsentLedgerRepository: ...
    @property
    def consent_states(self) -> ConsentStateQueries: ...
    @property
    def experiments(self) -> ExperimentRepository: ...
    @property
    def consent_subjects(self) -> ConsentSubjectRows: ...
    @property
    def deliveries(self) -> DeliveryRepository: ...
    @property
    def request_queue(self) -> RequestQueue: ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...


class Vault(Protocol):
    """Encryption of personal data at rest, under a data key per request (envelope encryption)."""

    def seal(self, request_id: str, plaintext: bytes) -> bytes: ...
    def open(self, request_id: str, sealed: bytes) -> bytes: ...
    def seal_stream(self, request_id: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Seal a file of any size chunk by chunk; yields the sealed stream's bytes."""
        ...

    def open_stream(self, request_id: str, sealed: Iterable[bytes]) -> Iterator[bytes]:
        """Plaintext chunks of a sealed stream, each yielded only once authenticated. Raises
        (possibly after earlier chunks) if the stream was altered, reordered or cut short."""
        ...

    def masking_key(self) -> bytes:
        """Key for the keyed-hash masking strategy."""
        ...

    def lookup_hash(self, value: str) -> str:
        """Keyed hash for finding a record by a personal value without storing it."""
        ...

    def destroy_key(self, request_id: str) -> bool:
        """Destroy the request's data key: nothing sealed for it opens again, and nothing more
        is sealed for it. True if a live key was destroyed now (False: none, or already)."""
        ...


class PackageStore(Protocol):
    """Sealed packages, written and read as streams (never whole in memory)."""

    def write(self, request_id: str, chunks: Iterable[bytes]) -> int:
        """Store the sealed package (replacing any earlier one atomically); returns its size."""
        ...

    def read(self, request_id: str) -> Iterator[bytes] | None:
        """The sealed package's bytes in chunks, or None when there is none."""
        ...

    def delete(self, request_id: str) -> bool:
        """Remove the package; True if there was one."""
        ...


class WorkflowStarter(Protocol):
    async def start(self, request_id: str, attempt: int) -> None:
        """Start (or, for an existing run, do nothing) the request's workflow."""
        ...

    async def cancel(self, request_id: str) -> None: ...

    async def answered(self, request_id: str, system: str, operation: str) -> None:
        """Tell the request's workflow that a system answered (no-op if it is not running)."""
        ...

    async def changed(self, request_id: str) -> None:
        """Tell the request's workflow its state or deadline changed (starting it if it is
        not running), so it moves on and re-arms its timers."""
        ...


class Connectors(Protocol):
    """Open connectors by system key (cached by the adapter)."""

    def for_system(self, system_key: str) -> Connector:
        """The system's row connector; `InvalidInput` if it is a system connector."""
        ...

    def system_connector(self, system_key: str) -> SystemConnector:
        """The system's connector if it answers for itself; `InvalidInput` otherwise."""
        ...

    def answers_itself(self, system_key: str) -> bool:
        """Whether the system is asked per subject (a service, a person), not per row."""
        ...


class Notifier(Protocol):
    """Tells people things (task owners, operators). Messages carry links, never identities."""

    def send(self, to: str, subject: str, body: str) -> None: ...


class Signer(Protocol):
    """Signs documents (receipts) so that anyone with the public key can check them offline."""

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy of `document` with a `signature` member."""
        ...

    def public_key_pem(self) -> str: ...
    def key_id(self) -> str: ...


class BulkRepository(Protocol):
    """Bulk jobs (services/bulk_jobs.py): the job and its counts, its chunks of sealed
    identities, one outcome per subject. Jobs whose intake is not done are not found."""

    def add_job(self, job: BulkJob) -> None: ...
    def get_job(self, job_id: str) -> BulkJob:
        """Raises NotFound."""
        ...

    def accept(self, job: BulkJob, plan: dict[str, Any]) -> None:
        """The intake is done: store the job's counts and plan; it may be listed and run."""
        ...

    def delete_job(self, job_id: str) -> None: ...
    def plan(self, job_id: str) -> dict[str, Any]: ...
    def set_status(
        self,
        job_id: str,
        status: BulkStatus,
        at: datetime,
        *,
        unless: frozenset[BulkStatus] = frozenset(),
        reason: str | None = None,
    ) -> bool:
        """Move the job to `status` unless it is in one of `unless`; True if it moved."""
        ...

    def list_jobs(self, after: tuple[datetime, str] | None, limit: int) -> Sequence[BulkJob]:
        """Newest first; `after` is the (created_at, id) of the previous page's last job."""
        ...

    def unfinished(self) -> Sequence[str]: ...
    def abandoned(self, before: datetime) -> Sequence[str]:
        """Ids of jobs whose intake began before `before` and never finished."""
        ...

    def add_chunk(self, job_id: str, chunk_no: int, subjects: int, sealed: bytes) -> None: ...
    def pending_chunks(self, job_id: str, limit: int) -> list[int]: ...
    def chunk(self, job_id: str, chunk_no: int) -> tuple[str, bytes]:
        """(status, sealed subjects) of a chunk."""
        ...

    def finish_chunk(
        self,
        job_id: str,
        chunk_no: int,
        records: Sequence[SubjectRecord],
        sealed_rows: dict[int, bytes],
        at: datetime,
    ) -> ChunkTally:
        """Store the outcomes, mark the chunk done, add its counts to the job's (idempotent)."""
        ...

    def subjects(
        self, job_id: str, status: str | None, after: int | None, limit: int
    ) -> Sequence[SubjectRecord]: ...
    def subject(self, job_id: str, seq: int) -> SubjectRecord | None: ...
    def sealed_rows(self, job_id: str, seq: int) -> bytes | None: ...


class BulkStarter(Protocol):
    async def start(self, job_id: str) -> None:
        """Start (or, if it runs already, leave alone) the job's workflow."""
        ...
