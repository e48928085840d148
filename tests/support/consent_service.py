"""Internal services told about consent, for tests: `rightsflow.sdk` with a consent handler
that records what it was told, faults to inject per POST, and a gate to hold a call open (a
worker can be killed while a system is being told)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from rightsflow.sdk import ConsentRequest, ConsentResult, PrivacyService
from rightsflow.services.identity_lookup import identity_hash
from rightsflow.services.ports import Vault
from rightsflow.storage.consent_tables import consent_entries, consent_records
from tests.support.privacy_service import DATASET_YAML, SECRET
from tests.support.service_stack import add_system

USER = "u-4242"


@dataclass
class Inbox:
    """What one service saw: POSTs (faults included) and the notices its handler ran for."""

    told: list[ConsentRequest] = field(default_factory=list)
    posts: int = 0
    faults: list[str] = field(default_factory=list)  # statuses for the next POSTs
    later: bool = False  # answer "accepted" (applied later) instead of "done"
    gate: threading.Event | None = None  # when set up, the handler waits for it (at most 20 s)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def consent_app(inbox: Inbox, system: str) -> FastAPI:
    privacy = PrivacyService(secret=SECRET, system=system)

    @privacy.consent
    async def opted_out(notice: ConsentRequest) -> str | ConsentResult:
        with inbox.lock:
            inbox.told.append(notice)
        inbox.arrived.set()
        if inbox.gate is not None:
            await asyncio.to_thread(inbox.gate.wait, 20)
        if inbox.later:
            return ConsentResult(status="accepted", reference=f"job-{len(inbox.told)}")
        return f"ref-{notice.record_id[:8]}"

    app = FastAPI()

    @app.middleware("http")
    async def faults(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
        if request.method != "POST":
            return await call_next(request)
        with inbox.lock:
            inbox.posts += 1
            fault = inbox.faults.pop(0) if inbox.faults else None
        if fault:
            return JSONResponse({"detail": "injected"}, status_code=int(fault))
        return await call_next(request)

    app.include_router(privacy.router())
    return app


def add_consent_service(mapdir: Path, key: str, url: str, **config: Any) -> None:
    """A Privacy Service API system `key` (its own one-collection dataset) in the data map."""
    dataset = key.replace("-", "_")
    add_system(
        mapdir,
        {
            "key": key,
            "connector": "http_service",
            "datasets": [dataset],
            "config": {
                "url": f"{url}/privacy/v1",
                "secret": SECRET,
                "allow_private_network": True,
                "backoff_s": 0.01,
                **config,
            },
        },
        f"{dataset}.yml",
        DATASET_YAML.replace("orders_service", dataset),
    )


def write_record(
    engine: Engine,
    vault: Vault,
    record_id: str,
    purposes: dict[str, bool],
    *,
    subject: tuple[str, str] = ("user_id", USER),
    sealed: bool = True,
) -> str:
    """A ledger record as the ledger writes one (subject hashed, its value sealed under the
    record's key); returns the subject hash."""
    kind, value = subject
    digest = identity_hash(vault, kind, value)
    at = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            consent_records.insert().values(
                id=record_id, subject_hash=digest, subject_kind=kind, source="preferences",
                regime="gdpr", gpc=False, actor="test", recorded_at=at,
                sealed_subject=vault.seal(record_id, value.encode()) if sealed else None,
            )
        )  # fmt: skip
        conn.execute(
            consent_entries.insert(),
            [
                {
                    "record_id": record_id, "subject_hash": digest, "purpose": purpose,
                    "granted": granted, "effective": granted, "source": "preferences",
                    "recorded_at": at,
                }
                for purpose, granted in purposes.items()
            ],
        )  # fmt: skip
    return digest
