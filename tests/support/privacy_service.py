"""An internal service for tests: `rightsflow.sdk` over an in-memory shipments table, with
faults to inject (5xx, garbage, slow answers, callbacks that never come)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rightsflow.sdk import PrivacyService, SubjectRequest

SECRET = "test-service-secret-0123456789"
DATASET_YAML = """\
dataset:
  - fides_key: orders_service
    name: Orders service (Privacy Service API)
    collections:
      - name: shipments
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: address
            data_categories: [user.contact.address]
          - name: carrier
            data_categories: [system.operations]
"""


@dataclass
class Shipments:
    """The service's own data and what it saw."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # operations, in order (faults included)
    bodies: list[bytes] = field(default_factory=list)  # what Rightsflow posted, in order
    faults: list[str] = field(default_factory=list)  # next POSTs: "500", "404", "garbage", ...
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, email: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.rows if r["email"] == email]


def shipments_for(emails: list[str], per_subject: int = 2) -> Shipments:
    rows = [
        {"id": i * 10 + n, "email": e, "address": f"{i} Test Street", "carrier": "post"}
        for i, e in enumerate(emails)
        for n in range(per_subject)
    ]
    return Shipments(rows=rows)


def service_app(data: Shipments, *, slow: bool = False, delay_s: float = 0.0) -> FastAPI:
    """A service exposing the Privacy Service API; `slow` answers 202 and calls back."""
    privacy = PrivacyService(secret=SECRET, system="orders-service")

    @privacy.access(slow=slow)
    def export(request: SubjectRequest) -> dict[str, list[dict[str, Any]]]:
        return {"shipments": data.of(request.identities["email"])}

    @privacy.erase(slow=slow)
    def forget(request: SubjectRequest) -> dict[str, int]:
        email = request.identities["email"]
        with data.lock:
            before = len(data.rows)
            data.rows = [r for r in data.rows if r["email"] != email]
            return {"shipments": before - len(data.rows)}

    app = FastAPI()
    _inject_faults(app, data, delay_s)
    app.include_router(privacy.router())
    return app


def _inject_faults(app: FastAPI, data: Shipments, delay_s: float) -> None:
    @app.middleware("http")
    async def faults(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
        if request.method != "POST":
            return await call_next(request)
        body = await request.body()
        with data.lock:
            data.bodies.append(body)
            data.calls.append(request.url.path.rsplit("/", 1)[-1])
            fault = data.faults.pop(0) if data.faults else None
            data.in_flight += 1
            data.most_in_flight = max(data.most_in_flight, data.in_flight)
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            if fault == "garbage":
                return JSONResponse({"rows": "not a mapping", "status": "done"})
            if fault == "silent":  # accepts slow work and never calls back
                return JSONResponse({"status": "accepted"}, status_code=202)
            if fault == "hang":
                await asyncio.sleep(2)
            if fault and fault.isdigit():
                return JSONResponse({"detail": "injected"}, status_code=int(fault))
            return await call_next(request)
        finally:
            with data.lock:
                data.in_flight -= 1
