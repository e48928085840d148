"""REST API plumbing: probes, problem responses for every kind of error, request ids, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from rightsflow.api.deps import ApiDeps
from rightsflow.domain.errors import ConnectorFailure, DataMapInvalid, Problem
from tests.unit.fakes import ApiHarness, api_harness

PROBLEM = "application/problem+json"
SECRET = "ada@example.com has card 4111111111111111"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(tmp_path) as harness:
        yield harness


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://rightsflow.dev/problems/{code}"
    assert body["status"] == status
    return body


def test_probes_need_no_token(api: ApiHarness) -> None:
    health = api.client.get("/healthz", headers={"Authorization": ""})
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = api.client.get("/readyz", headers={"Authorization": ""})
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "components": {"database": "ok", "temporal": "ok", "worker": "ok"},
    }


async def _worker_missing() -> dict[str, str]:
    return {"database": "ok", "temporal": "ok", "worker": "no worker polling task queue rightsflow"}


async def _crashing() -> dict[str, str]:
    raise RuntimeError(SECRET)


def test_readyz_is_503_when_a_component_fails(tmp_path: Path) -> None:
    with api_harness(tmp_path, readiness=_worker_missing) as api:
        response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["components"]["worker"] == "no worker polling task queue rightsflow"


def test_readyz_is_503_when_the_check_itself_crashes(tmp_path: Path) -> None:
    with api_harness(tmp_path, readiness=_crashing) as api:
        response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["components"] == {"readiness": "check failed (RuntimeError)"}
    assert SECRET not in response.text


def test_unknown_routes_and_methods_are_problems(api: ApiHarness) -> None:
    body = _problem(api.client.get("/api/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/api/v1/nothing-here"
    assert body["title"] == "Not Found"
    response = api.client.delete("/api/v1/privacy-requests")
    _problem(response, 405, "method-not-allowed")
    assert response.headers["allow"]


def _add_failing_routes(api: ApiHarness) -> None:
    @api.app.get("/test-only/crash")
    def crash() -> None:
        raise RuntimeError(SECRET)

    @api.app.get("/test-only/connector")
    def connector() -> None:
        raise ConnectorFailure(f"psql: relation customers: {SECRET}")

    @api.app.get("/test-only/datamap")
    def datamap() -> None:
        raise DataMapInvalid([Problem("shop.yml", "collections[0]", "no primary key")])


def test_unexpected_errors_are_generic_500_problems(api: ApiHarness) -> None:
    _add_failing_routes(api)
    with structlog.testing.capture_logs() as logs:
        response = api.client.get("/test-only/crash", headers={"X-Request-ID": "req-123"})
    body = _problem(response, 500, "internal-error")
    assert body["request_id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"
    assert SECRET not in response.text
    assert "RuntimeError" not in response.text
    assert logs == [
        {
            "event": "unhandled_error",
            "error_type": "RuntimeError",
            "method": "GET",
            "log_level": "error",
        }
    ]
    assert SECRET not in repr(logs)


def test_connector_failures_hide_the_system_message(api: ApiHarness) -> None:
    _add_failing_routes(api)
    response = api.client.get("/test-only/connector")
    _problem(response, 502, "connector-failure")
    assert SECRET not in response.text
    assert "psql" not in response.text


def test_datamap_problems_are_listed(api: ApiHarness) -> None:
    _add_failing_routes(api)
    body = _problem(api.client.get("/test-only/datamap"), 422, "datamap-invalid")
    assert body["errors"] == [{"field": "shop.yml: collections[0]", "message": "no primary key"}]


def test_request_ids_are_made_up_or_propagated(api: ApiHarness) -> None:
    made = api.client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    assert api.client.get("/healthz").headers["x-request-id"] != made
    given = api.client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert given.headers["x-request-id"] == "abc-1"
    odd = api.client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert odd.headers["x-request-id"] != "a b\tc" + "x" * 200
    problem = api.client.get("/nowhere", headers={"X-Request-ID": "abc-2"})
    assert problem.headers["x-request-id"] == "abc-2"


def test_request_id_is_bound_in_log_context(api: ApiHarness) -> None:
    seen: dict[str, Any] = {}

    @api.app.get("/test-only/context")
    def context() -> dict[str, str]:
        seen.update(structlog.contextvars.get_contextvars())
        return {}

    api.client.get("/test-only/context", headers={"X-Request-ID": "ctx-9"})
    assert seen["request_id"] == "ctx-9"


def test_openapi_documents_the_bearer_scheme(api: ApiHarness) -> None:
    spec = api.client.get("/openapi.json", headers={"Authorization": ""}).json()
    assert spec["info"]["title"] == "Rightsflow"
    assert spec["info"]["version"]
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    submit = spec["paths"]["/api/v1/privacy-requests"]["post"]
    assert submit["security"] == [{"bearer": []}]
    assert submit["x-required-scope"] == "requests:write"
    assert PROBLEM in submit["responses"]["422"]["content"]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    assert api.client.get("/docs", headers={"Authorization": ""}).status_code == 200


def test_apps_share_no_state(tmp_path: Path, api: ApiHarness) -> None:
    with api_harness(tmp_path) as other:
        request_id = other.client.post(
            "/api/v1/privacy-requests",
            json={"type": "access", "identities": {"email": "a@b.co"}, "regime": "gdpr"},
        ).json()["id"]
        assert other.client.get(f"/api/v1/privacy-requests/{request_id}").status_code == 200
    assert api.client.get(f"/api/v1/privacy-requests/{request_id}").status_code == 404
    assert isinstance(api.app.state.deps, ApiDeps)
    assert api.app.state.deps is not other.app.state.deps
