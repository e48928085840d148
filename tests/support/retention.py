"""Requests with everything a request can hold (sealed identities, plan, result pages, node
results, a system call, a verification, a package file, a data key), for retention tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from rightsflow.bootstrap import Runtime
from rightsflow.domain.records import NodeResult, SystemCallRecord
from rightsflow.domain.requests import TERMINAL, PrivacyRequest, RequestStatus, RequestType
from rightsflow.services.ports import Vault
from rightsflow.storage.tables import metadata, privacy_requests, verifications
from rightsflow.storage.vault import FileVault

IDENTITIES = b'{"identities": {"email": "ada.lovelace@example.com"}}'
PAGE = b'[{"email": "ada.lovelace@example.com", "name": "Ada"}]'
PACKAGE = b"PK-zip-bytes-of-the-access-package " * 40
ADDRESS = "shop:customers"


@dataclass(frozen=True)
class Seeded:
    id: str
    sealed_identities: bytes  # the raw bytes as stored in the database
    sealed_page: bytes
    package: bytes  # the raw bytes of the package file


def seed(
    runtime: Runtime,
    closed_days_ago: float,
    status: RequestStatus = RequestStatus.COMPLETED,
    *,
    legacy: bool = False,
) -> Seeded:
    """A request closed `closed_days_ago` days ago. `legacy`: sealed before data keys (with the
    master-derived key only, and closed_at unset as before revision 0004)."""
    platform, now = runtime.platform, runtime.platform.clock()
    rid = str(uuid.uuid4())
    vault: Vault = FileVault(runtime.settings.secret_key_file) if legacy else platform.vault
    closed = now - timedelta(days=closed_days_ago)
    request = PrivacyRequest(
        id=rid,
        type=RequestType.ACCESS,
        regime="gdpr",
        policy_key="default",
        status=status,
        received_at=closed - timedelta(days=20),
        due_at=closed + timedelta(days=10),
        identity_types=("email",),
        completed_at=closed if status is RequestStatus.COMPLETED else None,
        closed_at=closed if status in TERMINAL and not legacy else None,
        idempotency_key=f"client-key-{rid}",
        extension_reason="asked by the subject's lawyer",
        source="operator:alice",
    )
    sealed = vault.seal(rid, IDENTITIES)
    page = vault.seal(rid, PAGE)
    with platform.uow() as uow:
        uow.requests.add(request, sealed)
        uow.requests.save_plan(rid, {"nodes": [ADDRESS]})
        uow.results.put(NodeResult(rid, ADDRESS, "retrieve", rows_found=1, updated_at=now))
        uow.results.put_page(rid, ADDRESS, 0, page, 1)
        uow.calls.put(_call(rid, now))
        uow.commit()
    with runtime.engine.begin() as conn:
        conn.execute(
            verifications.insert().values(
                request_id=rid, method="email_code", code_hash="0" * 64, attempts=1, sends=1
            )
        )
    platform.packages.write(rid, vault.seal_stream(rid, [PACKAGE]))
    package = package_path(runtime, rid).read_bytes()
    return Seeded(rid, sealed, page, package)


def _call(request_id: str, now: datetime) -> SystemCallRecord:
    return SystemCallRecord(
        id=str(uuid.uuid4()),
        request_id=request_id,
        system="support_desk",
        operation="access",
        status="answered",
        issued_at=now,
        due_at=now + timedelta(days=3),
        assignee="owner@example.com",
        counts={"tickets": 1},
    )


def package_path(runtime: Runtime, request_id: str) -> Path:
    return runtime.settings.packages_dir / f"{request_id}.bin"


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Rows per table of the app database (a snapshot to compare)."""
    with runtime.engine.connect() as conn:
        return {
            t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def request_row(runtime: Runtime, request_id: str) -> dict[str, object]:
    with runtime.engine.connect() as conn:
        row = conn.execute(
            sa.select(privacy_requests).where(privacy_requests.c.id == request_id)
        ).mappings()
        return dict(row.one())


def wrapped_key(runtime: Runtime, request_id: str) -> bytes | None:
    """The request's wrapped data key as the key database holds it (b"" once destroyed)."""
    assert runtime.keys is not None
    stored = runtime.keys.get(request_id)
    return None if stored is None else stored.wrapped


def owned_rows(runtime: Runtime, request_id: str) -> dict[str, int]:
    """Rows of this request in every table that has a request_id column (audit excluded)."""
    counts: dict[str, int] = {}
    with runtime.engine.connect() as conn:
        for table in metadata.sorted_tables:
            column = table.c.get("request_id")
            if column is None or table.name == "audit_events":
                continue
            query = sa.select(sa.func.count()).select_from(table).where(column == request_id)
            counts[table.name] = int(conn.execute(query).scalar_one())
    return counts
