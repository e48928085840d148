"""The service-side SDK, driven over ASGI like Rightsflow would call it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI, Request

from rightsflow.sdk import (
    HEADER,
    Callback,
    PrivacyService,
    SignatureError,
    SubjectRequest,
    sign,
    signed_call,
    verify,
)

SECRET = "s3cret-shared-with-rightsflow"
EMAIL = "ada@example.test"


def _service(calls: list[str], *, slow: bool = False, http: httpx.AsyncClient | None = None):  # type: ignore[no-untyped-def]
    privacy = PrivacyService(SECRET, system="orders", http=http)

    @privacy.access
    def export(request: SubjectRequest) -> dict[str, list[dict[str, object]]]:
        calls.append("access")
        return {"orders": [{"id": 1, "email": request.identities["email"]}]}

    @privacy.erase(slow=slow)
    async def forget(request: SubjectRequest) -> dict[str, int]:
        calls.append("erase")
        return {"orders": 2}

    app = FastAPI()
    app.include_router(privacy.router())
    return app


def _subject(operation: str = "erase", **extra: object) -> SubjectRequest:
    return SubjectRequest.model_validate(
        {
            "request_id": "r-1",
            "system": "orders",
            "operation": operation,
            "identities": {"email": EMAIL},
            "categories": ["user.contact"],
            **extra,
        }
    )


async def _post(app: FastAPI, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.post(f"/privacy/v1/{path}", content=body, headers=headers)


async def test_access_returns_rows_and_erase_runs_once() -> None:
    calls: list[str] = []
    app = _service(calls)
    body, headers = signed_call(SECRET, _subject("access"))
    answer = await _post(app, "access", body, headers)
    assert answer.status_code == 200
    assert answer.json() == {"status": "done", "rows": {"orders": [{"id": 1, "email": EMAIL}]}}
    body, headers = signed_call(SECRET, _subject("erase"))
    first = await _post(app, "erase", body, headers)
    again = await _post(app, "erase", *signed_call(SECRET, _subject("erase")))
    assert first.json() == again.json() == {"status": "done", "counts": {"orders": 2}}
    assert calls == ["access", "erase"]  # the repeated erase did not run again


async def test_unsigned_forged_and_stale_calls_are_refused() -> None:
    calls: list[str] = []
    app = _service(calls)
    body, headers = signed_call(SECRET, _subject())
    assert (await _post(app, "erase", body, {})).status_code == 401
    forged = {HEADER: sign(b"not-the-secret", body)}
    assert (await _post(app, "erase", body, forged)).status_code == 401
    stale = {HEADER: sign(SECRET.encode(), body, now=1_000_000)}
    answer = await _post(app, "erase", body, stale)
    assert answer.status_code == 401
    assert "too old" in answer.json()["detail"]
    tampered = body.replace(EMAIL.encode(), b"eve@example.test")
    assert (await _post(app, "erase", tampered, headers)).status_code == 401
    assert calls == []


async def test_bad_bodies_name_fields_not_values() -> None:
    app = _service([])
    body = json.dumps({"request_id": "r", "system": "orders", "operation": "erase"}).encode()
    answer = await _post(app, "erase", body, {HEADER: sign(SECRET.encode(), body)})
    assert answer.status_code == 422
    assert "identities" in answer.json()["detail"]


async def test_slow_work_answers_202_and_calls_back_signed() -> None:
    received: list[tuple[dict[str, object], str | None, str | None]] = []
    rightsflow = FastAPI()

    @rightsflow.post("/callbacks/{token_id}")
    async def callback(request: Request) -> dict[str, str]:
        raw = await request.body()
        verify(SECRET.encode(), raw, request.headers.get(HEADER))
        received.append((json.loads(raw), request.headers.get("authorization"), None))
        return {"ok": "yes"}

    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=rightsflow), base_url="http://rf")
    app = _service([], slow=True, http=http)
    token = "one-time-token-0123456789"
    subject = _subject(callback=Callback(url="http://rf/callbacks/1", token=token))
    answer = await _post(app, "erase", *signed_call(SECRET, subject))
    assert answer.status_code == 202
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.02)
    ((body, authorization, _),) = received
    assert authorization == f"Bearer {token}"
    assert body["result"] == {"status": "done", "counts": {"orders": 2}}
    await http.aclose()


def test_verify_rejects_malformed_headers() -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(b"k", b"{}", "v1=abc")
    with pytest.raises(SignatureError, match="missing"):
        verify(b"k", b"{}", None)
