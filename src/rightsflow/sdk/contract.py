"""The Privacy Service API as an OpenAPI document, built from the SDK's own models so the
published file (docs/privacy-service-api.yaml) and the code cannot drift apart."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rightsflow.sdk.models import (
    API_VERSION,
    Accepted,
    AccessResult,
    CallbackBody,
    ConsentRequest,
    ConsentResult,
    EraseResult,
    SubjectRequest,
)
from rightsflow.sdk.signing import HEADER

_MODELS: tuple[type[BaseModel], ...] = (
    SubjectRequest,
    AccessResult,
    EraseResult,
    Accepted,
    CallbackBody,
    ConsentRequest,
    ConsentResult,
)


def openapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rightsflow Privacy Service API",
            "version": API_VERSION,
            "description": (
                "Implemented by internal services so Rightsflow can export or erase a data "
                f"subject's data. Every call carries `{HEADER}: t=<unix time>,v1=<hex>`, "
                "HMAC-SHA-256 under the shared secret over `<t>.<raw body>`; refuse calls "
                "older than 5 minutes. The same request_id and operation twice must change "
                "nothing twice. Slow work answers 202 and later POSTs a CallbackBody to "
                "`callback.url` with `Authorization: Bearer <callback.token>`, signed the same "
                "way. `/consent` is told about opt-outs and withdrawals; its idempotency key "
                "is record_id. The Python SDK (`rightsflow.sdk.PrivacyService`) does all of "
                "this."
            ),
        },
        "paths": {
            "/privacy/v1/access": _operation("access", "AccessResult"),
            "/privacy/v1/erase": _operation("erase", "EraseResult"),
            "/privacy/v1/consent": _consent_operation(),
            "/privacy/v1/health": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}
            },
        },
        "components": {"schemas": schemas},
    }


def _consent_operation() -> dict[str, Any]:
    operation = _operation("consent", "ConsentResult", "ConsentRequest")
    post = operation["post"]
    post["summary"] = "Apply a data subject's opt-out or withdrawal of consent"
    post["responses"]["202"] = {
        "description": "Accepted; applied later (no callback)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConsentResult"}}},
    }
    return operation


def _operation(name: str, result: str, body: str = "SubjectRequest") -> dict[str, Any]:
    ref = "#/components/schemas/"
    return {
        "post": {
            "summary": f"{name.capitalize()} a data subject's data",
            "parameters": [
                {"name": HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"{ref}{body}"}}},
            },
            "responses": {
                "200": {
                    "description": "Done",
                    "content": {"application/json": {"schema": {"$ref": f"{ref}{result}"}}},
                },
                "202": {
                    "description": "Accepted; the result follows at the callback URL",
                    "content": {"application/json": {"schema": {"$ref": f"{ref}Accepted"}}},
                },
                "401": {"description": "Missing, forged or stale signature"},
                "422": {"description": "Invalid body (names fields, never values)"},
            },
        }
    }
