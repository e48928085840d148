"""In-memory adapters for the services' ports, and an API harness built on them.

The unit of work is transactional in the simplest way: it snapshots the store on enter and puts
the snapshot back on exit unless `commit` was called, so a use case that forgets to commit is
caught here as it would be against a database.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import warnings
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.domain.audit_chain import AuditFilter, StoredEvent, chain
from rightsflow.domain.connector import Connector, SystemConnector
from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.errors import NotFound
from rightsflow.domain.policy import DEFAULT_POLICIES
from rightsflow.domain.records import SystemCallRecord
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.domain.signature import key_id, public_key_pem, raw_public_key, sign_document
from rightsflow.domain.verification import Challenge
from rightsflow.sample.shop import shop_dataset_yaml
from rightsflow.services.lifecycle_rules import LifecycleRules
from rightsflow.services.platform import Platform
from rightsflow.services.ports import (
    AuditEvent,
    AuditRepository,
    CallRepository,
    IdentityHashRepository,
    NodeResult,
    RequestFilter,
    RequestRepository,
    ResultRepository,
    VerificationRepository,
)

with warnings.catch_warnings():
    # Starlette 1.x warns when its TestClient runs on httpx instead of httpx2; the warning is
    # about the environment, not this code (installing httpx2 makes it go away).
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SYSTEMS_YML = """\
systems:
  - key: shop
    connector: sql
    datasets: [shop]
    config:
      url: sqlite:///unused.db
"""


@dataclass
class StoreState:
    requests: dict[str, PrivacyRequest] = field(default_factory=dict)
    sealed: dict[str, bytes] = field(default_factory=dict)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[tuple[str, str, str], NodeResult] = field(default_factory=dict)
    # (request_id, address) -> page number -> (sealed page, rows in it)
    pages: dict[tuple[str, str], dict[int, tuple[bytes, int]]] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    calls: dict[str, SystemCallRecord] = field(default_factory=dict)
    challenges: dict[str, Challenge] = field(default_factory=dict)
    identity_hashes: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class FakeStore:
    state: StoreState = field(default_factory=StoreState)


class FakeRequests:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, request: PrivacyRequest, sealed_identities: bytes) -> None:
        self._store.state.requests[request.id] = copy.deepcopy(request)
        self._store.state.sealed[request.id] = sealed_identities

    def get(self, request_id: str) -> PrivacyRequest:
        found = self._store.state.requests.get(request_id)
        if found is None:
            raise NotFound("privacy request not found")
        return copy.deepcopy(found)

    def save(self, request: PrivacyRequest) -> None:
        self._store.state.requests[request.id] = copy.deepcopy(request)

    def by_idempotency_key(self, key: str) -> PrivacyRequest | None:
        for request in self._store.state.requests.values():
            if request.idempotency_key == key:
                return copy.deepcopy(request)
        return None

    def sealed_identities(self, request_id: str) -> bytes:
        return self._store.state.sealed[request_id]

    def save_plan(self, request_id: str, plan: dict[str, Any]) -> None:
        self._store.state.plans[request_id] = copy.deepcopy(plan)

    def plan(self, request_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self._store.state.plans.get(request_id))

    def list(
        self, filters: RequestFilter, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[PrivacyRequest]:
        def keep(r: PrivacyRequest) -> bool:
            return (
                (filters.status is None or r.status is filters.status)
                and (filters.type is None or r.type is filters.type)
                and (filters.regime is None or r.regime == filters.regime)
                and (after is None or (r.received_at, r.id) < after)
            )

        found = sorted(
            (r for r in self._store.state.requests.values() if keep(r)),
            key=lambda r: (r.received_at, r.id),
            reverse=True,
        )
        return [copy.deepcopy(r) for r in found[:limit]]

    def unfinished(self) -> Sequence[PrivacyRequest]:
        live = (RequestStatus.RECEIVED, RequestStatus.EXECUTING)
        return [copy.deepcopy(r) for r in self._store.state.requests.values() if r.status in live]


class FakeResults:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def get(self, request_id: str, address: str, phase: str) -> NodeResult | None:
        return copy.deepcopy(self._store.state.results.get((request_id, address, phase)))

    def put(self, r: NodeResult) -> None:
        self._store.state.results[(r.request_id, r.address, r.phase)] = copy.deepcopy(r)

    def for_request(self, request_id: str) -> Sequence[NodeResult]:
        return [
            copy.deepcopy(r) for k, r in self._store.state.results.items() if k[0] == request_id
        ]

    def clear(
        self, request_id: str, phases: Sequence[str], addresses: Sequence[str] | None = None
    ) -> None:
        def hit(key: tuple[str, ...]) -> bool:
            return key[0] == request_id and (addresses is None or key[1] in addresses)

        results = self._store.state.results
        for key in [k for k in results if hit(k) and k[2] in phases]:
            del results[key]
        if "retrieve" in phases:
            for key in [k for k in self._store.state.pages if hit(k)]:
                del self._store.state.pages[key]

    def put_page(self, request_id: str, address: str, page: int, sealed: bytes, rows: int) -> None:
        self._store.state.pages.setdefault((request_id, address), {})[page] = (sealed, rows)

    def pages(self, request_id: str, address: str) -> Iterator[bytes]:
        stored = self._store.state.pages.get((request_id, address), {})
        for number in sorted(stored):
            yield stored[number][0]

    def clear_pages(self, request_id: str, address: str, from_page: int = 0) -> None:
        stored = self._store.state.pages.get((request_id, address), {})
        for number in [n for n in stored if n >= from_page]:
            del stored[number]


class FakeAudit:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def append(self, event: AuditEvent) -> None:
        self._store.state.audit.append(event)

    def for_request(self, request_id: str) -> Sequence[AuditEvent]:
        return [e for e in self._store.state.audit if e.request_id == request_id]

    def search(self, filters: AuditFilter, after: int | None, limit: int) -> Sequence[StoredEvent]:
        """Ids by position, chained like the SQL repository; filtered as it filters."""
        found: list[StoredEvent] = []
        prev: str | None = None
        for number, event in enumerate(self._store.state.audit, start=1):
            stored = chain(number, event, prev)
            prev = stored.hash
            if number > (after or 0) and _audit_matches(filters, event):
                found.append(stored)
        return found[:limit]


def _audit_matches(wanted: AuditFilter, event: AuditEvent) -> bool:
    return (
        wanted.request_id in (None, event.request_id)
        and wanted.actor in (None, event.actor)
        and wanted.action in (None, event.action)
        and (wanted.since is None or event.at >= wanted.since)
        and (wanted.until is None or event.at < wanted.until)
    )


class FakeVerifications:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def get(self, request_id: str, *, lock: bool = False) -> Challenge | None:  # noqa: ARG002
        return self._store.state.challenges.get(request_id)

    def put(self, challenge: Challenge) -> None:
        self._store.state.challenges[challenge.request_id] = challenge


class FakeCalls:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def _all(self) -> list[SystemCallRecord]:
        return list(self._store.state.calls.values())

    def put(self, call: SystemCallRecord) -> None:
        old = self.find(call.request_id, call.system, call.operation)
        if old is not None:
            del self._store.state.calls[old.id]
        self._store.state.calls[call.id] = copy.deepcopy(call)

    def get(self, call_id: str) -> SystemCallRecord:
        if call_id not in self._store.state.calls:
            raise NotFound("no such call or task")
        return copy.deepcopy(self._store.state.calls[call_id])

    def find(self, request_id: str, system: str, operation: str) -> SystemCallRecord | None:
        for c in self._all():
            if (c.request_id, c.system, c.operation) == (request_id, system, operation):
                return copy.deepcopy(c)
        return None

    def for_request(self, request_id: str) -> Sequence[SystemCallRecord]:
        return [copy.deepcopy(c) for c in self._all() if c.request_id == request_id]

    def awaiting(self, assignee: str | None = None) -> Sequence[SystemCallRecord]:
        return [
            copy.deepcopy(c)
            for c in self._all()
            if c.awaiting and (assignee is None or c.assignee == assignee)
        ]


class FakeIdentityHashes:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, request_id: str, hashes: Mapping[str, str]) -> None:
        for kind, digest in hashes.items():
            self._store.state.identity_hashes[(request_id, kind)] = digest

    def request_ids(self, kind: str, digest: str, limit: int) -> list[str]:
        found = [
            r for (r, k), d in self._store.state.identity_hashes.items() if (k, d) == (kind, digest)
        ]
        return sorted(found, key=lambda r: self._store.state.requests[r].received_at)[:limit]


class NoConsentRows:
    """The experiment and consent-subject repositories as erasure uses them, holding nothing."""

    def erase_subject(self, _subject_hash: str) -> int:
        return 0

    def erase_subjects(self, _subject_hashes: Collection[str]) -> int:
        return 0

    def linked_to(self, _subject_hashes: Collection[str]) -> list[str]:
        return []

    def sealed_records(self, _subject_hashes: Collection[str]) -> list[str]:
        return []

    def clear_sealed(self, _record_ids: Collection[str]) -> int:
        return 0


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._snapshot: StoreState | None = None
        # Typed as the ports: a Protocol's attributes are invariant.
        self.requests: RequestRepository = FakeRequests(store)
        self.results: ResultRepository = FakeResults(store)
        self.audit: AuditRepository = FakeAudit(store)
        self.calls: CallRepository = FakeCalls(store)
        self.verifications: VerificationRepository = FakeVerifications(store)
        self.identities: IdentityHashRepository = FakeIdentityHashes(store)
        # What a completed erasure's consent step asks (services/consent_erasure.py): no rows.
        self.experiments = NoConsentRows()
        self.consent_subjects = NoConsentRows()

    def __enter__(self) -> FakeUnitOfWork:
        self._snapshot = copy.deepcopy(self._store.state)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._snapshot is not None:
            self._store.state = self._snapshot
            self._snapshot = None

    def commit(self) -> None:
        self._snapshot = None


class FakeVault:
    """XOR with a fixed key, then base64: reversible and obviously not plaintext."""

    KEY = b"rightsflow-unit-test-key"

    def _xor(self, request_id: str, data: bytes) -> bytes:
        pad = hashlib.sha256(self.KEY + request_id.encode()).digest()
        return bytes(b ^ pad[i % len(pad)] for i, b in enumerate(data))

    def seal(self, request_id: str, plaintext: bytes) -> bytes:
        return b"sealed:" + base64.b64encode(self._xor(request_id, plaintext))

    def open(self, request_id: str, sealed: bytes) -> bytes:
        assert sealed.startswith(b"sealed:")
        return self._xor(request_id, base64.b64decode(sealed.removeprefix(b"sealed:")))

    def masking_key(self) -> bytes:
        return hashlib.sha256(self.KEY + b"masking").digest()

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self.KEY, value.encode(), hashlib.sha256).hexdigest()

    def seal_stream(self, request_id: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """One sealed line per input chunk (no authentication: the real format is tested on
        FileVault)."""
        for chunk in chunks:
            yield self.seal(request_id, chunk) + b"\n"

    def open_stream(self, request_id: str, sealed: Iterable[bytes]) -> Iterator[bytes]:
        for line in b"".join(sealed).splitlines():
            yield self.open(request_id, line)


class FakePackages:
    """Sealed packages in memory; `chunk_size` re-cuts what is read to exercise streaming."""

    def __init__(self, chunk_size: int = 4096) -> None:
        self.stored: dict[str, bytes] = {}
        self.chunk_size = chunk_size

    def write(self, request_id: str, chunks: Iterable[bytes]) -> int:
        self.stored[request_id] = b"".join(chunks)
        return len(self.stored[request_id])

    def read(self, request_id: str) -> Iterator[bytes] | None:
        data = self.stored.get(request_id)
        if data is None:
            return None
        size = self.chunk_size
        return (data[i : i + size] for i in range(0, len(data), size))


class NoConnectors:
    def for_system(self, system_key: str) -> Connector:
        raise AssertionError(f"the API tests reach no system ({system_key})")

    def system_connector(self, system_key: str) -> SystemConnector:
        raise AssertionError(f"the API tests reach no system ({system_key})")

    def answers_itself(self, system_key: str) -> bool:  # noqa: ARG002 (port signature)
        return False


@dataclass
class RecordingNotifier:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))


@dataclass
class RecordingStarter:
    started: list[tuple[str, int]] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    answers: list[tuple[str, str, str]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    async def changed(self, request_id: str) -> None:
        self.changes.append(request_id)

    async def start(self, request_id: str, attempt: int) -> None:
        self.started.append((request_id, attempt))

    async def cancel(self, request_id: str) -> None:
        self.canceled.append(request_id)

    async def answered(self, request_id: str, system: str, operation: str) -> None:
        self.answers.append((request_id, system, operation))


@dataclass
class TickingClock:
    """Each reading is one second after the last, so every request has its own received_at."""

    now: datetime = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class KeySigner:
    """The Signer port over an in-memory Ed25519 key: real signatures, no files."""

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self.private_key = key or Ed25519PrivateKey.generate()

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        return sign_document(document, self.private_key)

    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key)

    def key_id(self) -> str:
        return key_id(raw_public_key(self.private_key))


def make_platform(store: FakeStore | None = None) -> tuple[Platform, FakeStore]:
    store = store or FakeStore()
    datamap = parse_datamap({"shop.yml": shop_dataset_yaml(), "systems.yml": SYSTEMS_YML}, env={})
    platform = Platform(
        uow=lambda: FakeUnitOfWork(store),
        vault=FakeVault(),
        packages=FakePackages(),
        connectors=NoConnectors(),
        clock=TickingClock(),
        datamap=datamap,
        policies=DEFAULT_POLICIES,
        signer=KeySigner(),
        notifier=RecordingNotifier(),
        public_url="http://rightsflow.test",
        operators="ops@example.test",
        # Tests here drive execution; tests of the lifecycle build their own rules.
        lifecycle=LifecycleRules(auto_approve=frozenset(RequestType)),
    )
    return platform, store


async def all_ok() -> dict[str, str]:
    return {"database": "ok", "temporal": "ok", "worker": "ok"}


TOKEN = "unit-test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class ApiHarness:
    client: TestClient
    app: FastAPI
    platform: Platform
    store: FakeStore
    starter: RecordingStarter


@contextmanager
def api_harness(
    data_dir: Path, readiness: Callable[[], Awaitable[dict[str, str]]] = all_ok
) -> Iterator[ApiHarness]:
    """The real app over fakes; the client sends the admin token unless a test overrides it."""
    platform, store = make_platform()
    starter = RecordingStarter()
    deps = ApiDeps(
        platform=platform,
        workflows=starter,
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=readiness,
    )
    app = create_app(Settings(data_dir=data_dir), deps)
    with TestClient(app, headers=AUTH) as client:
        yield ApiHarness(client, app, platform, store, starter)
