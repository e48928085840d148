"""The SDK's /consent endpoint, driven over ASGI as Rightsflow's http_service connector calls
it, and the consent capability of the built-in connectors."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from rightsflow.connectors.base import ConsentReceiver
from rightsflow.connectors.http_service import HTTP_SERVICE_CONNECTOR, HttpServiceConfig
from rightsflow.connectors.registry import builtin_specs
from rightsflow.sdk import (
    HEADER,
    ConsentRequest,
    ConsentResult,
    PrivacyService,
    sign,
    signed_call,
)

SECRET = "s3cret-shared-with-rightsflow"
USER = "u-77"


def _notice(**extra: object) -> ConsentRequest:
    return ConsentRequest.model_validate(
        {
            "record_id": "rec-1",
            "system": "crm",
            "identities": {"user_id": USER},
            "purposes": {"advertising": False},
            "source": "banner",
            "regime": "ccpa",
            "recorded_at": "2026-11-25T00:00:00+00:00",
            **extra,
        }
    )


def _app(told: list[ConsentRequest], *, later: bool = False, consent: bool = True) -> FastAPI:
    privacy = PrivacyService(SECRET, system="crm")

    @privacy.access
    def export(request: object) -> dict[str, list[dict[str, object]]]:
        return {}

    if consent:

        @privacy.consent
        async def opted_out(notice: ConsentRequest) -> str | ConsentResult:
            told.append(notice)
            return ConsentResult(status="accepted", reference="job-9") if later else "ref-1"

    app = FastAPI()
    app.include_router(privacy.router())
    return app


async def _post(app: FastAPI, body: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.post("/privacy/v1/consent", content=body, headers=headers)


async def test_a_record_is_applied_once_and_answered_alike_every_time() -> None:
    told: list[ConsentRequest] = []
    app = _app(told)
    first = await _post(app, *signed_call(SECRET, _notice()))
    again = await _post(app, *signed_call(SECRET, _notice()))
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"status": "done", "reference": "ref-1"}
    assert [n.identities for n in told] == [{"user_id": USER}]


async def test_applied_later_is_a_202_with_the_reference() -> None:
    answer = await _post(_app([], later=True), *signed_call(SECRET, _notice()))
    assert answer.status_code == 202
    assert answer.json() == {"status": "accepted", "reference": "job-9"}


async def test_forged_invalid_foreign_and_unimplemented_calls_are_refused() -> None:
    told: list[ConsentRequest] = []
    app = _app(told)
    body, _ = signed_call(SECRET, _notice())
    forged = await _post(app, body, signed_call("another-secret-entirely", _notice())[1])
    assert forged.status_code == 401
    bad = body.replace(b'"purposes":{"advertising":false}', b'"purposes":"' + USER.encode() + b'"')
    invalid = await _post(app, bad, {HEADER: sign(SECRET.encode(), bad)})
    assert invalid.status_code == 422
    assert "purposes" in invalid.json()["detail"]
    assert USER not in invalid.text
    foreign = await _post(app, *signed_call(SECRET, _notice(system="billing")))
    assert foreign.status_code == 422
    none = await _post(_app([], consent=False), *signed_call(SECRET, _notice()))
    assert none.status_code == 501
    assert told == []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        health = await client.get("/privacy/v1/health")
    assert health.json()["operations"] == ["access", "consent"]


def test_every_connector_declaring_consent_implements_it() -> None:
    declared = {s.kind for s in builtin_specs() if s.supports("consent")}
    assert declared == {"http_service", "saas"}  # not sql, manual, the lakes, redis
    config = {"url": "https://crm.internal/privacy/v1", "secret": SECRET}
    service = HTTP_SERVICE_CONNECTOR.factory(HttpServiceConfig.model_validate(config))
    off = HTTP_SERVICE_CONNECTOR.factory(
        HttpServiceConfig.model_validate(config | {"consent": False})
    )
    try:
        assert isinstance(service, ConsentReceiver)
        assert service.wants_consent("device_id", frozenset({"analytics"}))
        assert not service.wants_consent("user_id", frozenset())
        assert not off.wants_consent("user_id", frozenset({"analytics"}))  # type: ignore[union-attr]
    finally:
        service.close()
        off.close()
