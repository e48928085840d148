"""Requests that reach an internal service through the Privacy Service API, end to end: the
real workflow on Temporal, the service built with `rightsflow.sdk`, callbacks over HTTP."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from rightsflow.api.rest.progress import detail_out
from rightsflow.sdk.models import CallbackBody, EraseResult, SubjectRequest
from rightsflow.sdk.signing import HEADER, sign
from rightsflow.services import package, receipt, requests
from rightsflow.services.requests import NewRequest, submit_and_start
from rightsflow.storage.outbox import FileOutbox
from rightsflow.workflows.devserver import DevServer
from tests.support.http_server import serve
from tests.support.privacy_service import SECRET, Shipments, service_app, shipments_for
from tests.support.service_stack import add_orders_service, free_socket, served_api, url_of
from tests.support.stack import Stack, make_shop, rows, running_stack, stack_settings

pytestmark = pytest.mark.temporal
EMAIL = "customer0000009@shop.example"
OTHER = "customer0000010@shop.example"


@asynccontextmanager
async def platform_with_service(
    tmp_path: Path,
    temporal: DevServer,
    client: Client,
    data: Shipments,
    *,
    slow: bool = False,
    **config: Any,
) -> AsyncIterator[tuple[Stack, Path, str]]:
    """Shop + orders service + the platform (worker and API); yields (stack, shop db, api)."""
    db, mapdir = make_shop(tmp_path)
    sock = free_socket()
    with serve(service_app(data, slow=slow)) as service_url:
        add_orders_service(mapdir, service_url, backoff_s=0.01, **config)
        settings = stack_settings(tmp_path, mapdir, temporal.address, public_url=url_of(sock))
        async with running_stack(settings, client) as stack:
            with served_api(stack, sock) as api:
                yield stack, db, api


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SECRET", SECRET)


async def test_access_packages_the_services_rows(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    data = shipments_for([EMAIL, OTHER])
    async with platform_with_service(tmp_path, temporal_server, temporal_client, data) as (
        stack,
        _db,
        _api,
    ):
        new = NewRequest("access", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        archive = zipfile.ZipFile(
            io.BytesIO(package.download(stack.runtime.platform, request.id, actor="test"))
        )
    shipped = json.loads(archive.read("data.json"))["orders_service:shipments"]
    assert len(shipped) == 2
    assert {(r["email"], r["address"]) for r in shipped} == {(EMAIL, "0 Test Street")}
    asked = SubjectRequest.model_validate_json(data.bodies[0])
    assert asked.identities == {"email": EMAIL}
    assert asked.request_id == request.id


async def test_erasure_waits_for_a_slow_service_and_verifies_it(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    data = shipments_for([EMAIL, OTHER])
    async with platform_with_service(
        tmp_path, temporal_server, temporal_client, data, slow=True, remind_every_s=1
    ) as (stack, _db, _api):
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        proof = receipt.build(stack.runtime.platform, request.id)
    assert data.of(EMAIL) == []
    assert len(data.of(OTHER)) == 2
    (line,) = [ln for ln in proof.lines if ln.collection == "orders_service:shipments"]
    assert line.rows_found == 2
    assert line.rows_deleted + line.rows_masked == 2
    assert line.recheck == "verified"
    assert [(s.operation, s.status, s.answered_by) for s in proof.systems] == [
        ("access", "answered", "service"),
        ("erase", "answered", "service"),
        ("recheck", "answered", "service"),
    ]
    assert proof.verified
    # The re-check asked under its own idempotency key, so it was not served the first answer.
    assert data.calls == ["access", "erase", "access"]


async def test_a_service_that_never_calls_back_is_overdue_and_the_rest_completes(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    data = shipments_for([EMAIL, OTHER])
    data.faults = ["", "silent"]  # answers the access, accepts the erase and goes quiet
    async with platform_with_service(
        tmp_path,
        temporal_server,
        temporal_client,
        data,
        answer_within_s=3,
        remind_every_s=1,
    ) as (stack, db, _api):
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "failed"
        with stack.runtime.platform.uow() as uow:
            failed = uow.requests.get(request.id)
            events = [e.action for e in uow.audit.for_request(request.id)]
        mail = FileOutbox(stack.runtime.settings.outbox_dir).messages()
        proof = receipt.build(stack.runtime.platform, request.id)
        shown = detail_out(requests.detail(stack.runtime.platform, request.id)).progress.asked
    assert [(q.operation, q.status) for q in shown] == [
        ("access", "answered"),
        ("erase", "overdue"),
    ]
    assert shown[1].reminders >= 1
    assert shown[1].detail is not None
    assert failed.failure_reason is not None
    assert "orders-service: no answer to erase" in failed.failure_reason
    # The SQL part of the request still completed, and was verified.
    shop = [ln for ln in proof.lines if ln.system == "shop"]
    assert shop
    assert all(ln.recheck in ("verified", "not needed") for ln in shop)
    assert rows(db, "select count(*) from customers where email = ?", OTHER) == [(1,)]
    (service_line,) = [ln for ln in proof.lines if ln.system == "orders-service"]
    assert service_line.recheck == "not run"
    assert not proof.verified
    overdue = [s for s in proof.systems if s.operation == "erase"]
    assert [(s.status, s.answered_by) for s in overdue] == [("overdue", None)]
    assert "system.reminded" in events
    assert "system.overdue" in events
    subjects = [m["Subject"] for m in mail]
    assert any("Reminder" in s for s in subjects)
    assert any("orders-service overdue" in s for s in subjects)
    assert all(EMAIL not in m.get_content() for m in mail)


async def test_callbacks_need_the_one_time_token_and_cannot_be_replayed(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    data = shipments_for([EMAIL, OTHER])
    data.faults = ["", "silent"]
    async with platform_with_service(
        tmp_path, temporal_server, temporal_client, data, remind_every_s=1
    ) as (stack, _db, api):
        new = NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        asked = await _wait_for_erase_call(data)
        body = (
            CallbackBody(
                request_id=request.id,
                system="orders-service",
                operation="erase",
                result=EraseResult(counts={"shipments": 2}),
            )
            .model_dump_json()
            .encode()
        )
        assert asked.callback is not None
        url, token = asked.callback.url, asked.callback.token
        assert url.startswith(api)
        async with httpx.AsyncClient() as http:
            forged = await http.post(url, content=body, headers=_headers(body, "x" * 43))
            unsigned = await http.post(
                url, content=body, headers={"Authorization": f"Bearer {token}"}
            )
            good = await http.post(url, content=body, headers=_headers(body, token))
            replayed = await http.post(url, content=body, headers=_headers(body, token))
        assert (forged.status_code, unsigned.status_code) == (401, 401)
        assert good.status_code == 200, good.text
        assert replayed.status_code == 401
        assert forged.headers["content-type"] == "application/problem+json"
        assert await stack.wait(request.id) in ("completed", "failed")
        with stack.runtime.platform.uow() as uow:
            refusals = [
                e.detail["reason"]
                for e in uow.audit.for_request(request.id)
                if e.action == "callback.refused"
            ]
    assert refusals[0] == "wrong token"
    assert "bad signature" in refusals[1]
    assert refusals[2] == "already answered (replayed)"


def _headers(body: bytes, token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        HEADER: sign(SECRET.encode(), body),
    }


async def _wait_for_erase_call(data: Shipments) -> SubjectRequest:
    import asyncio  # noqa: PLC0415

    for _ in range(400):
        with data.lock:
            bodies = list(data.bodies)
        for raw in bodies:
            asked = SubjectRequest.model_validate_json(raw)
            if asked.operation == "erase":
                return asked
        await asyncio.sleep(0.05)
    raise AssertionError("the service was never asked to erase")
