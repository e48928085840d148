"""The published Privacy Service API file is what the SDK's models say."""

from __future__ import annotations

from pathlib import Path

import yaml

from rightsflow.sdk.contract import openapi_document

FILE = Path(__file__).resolve().parents[2] / "docs" / "privacy-service-api.yaml"


def test_the_published_contract_matches_the_sdk() -> None:
    assert yaml.safe_load(FILE.read_text()) == openapi_document(), (
        "regenerate docs/privacy-service-api.yaml from rightsflow.sdk.contract.openapi_document"
    )


def test_the_contract_names_every_operation_and_the_signature_header() -> None:
    doc = openapi_document()
    assert set(doc["paths"]) == {
        "/privacy/v1/access",
        "/privacy/v1/erase",
        "/privacy/v1/consent",
        "/privacy/v1/health",
    }
    assert "Rightsflow-Signature" in doc["info"]["description"]
    assert {
        "SubjectRequest",
        "AccessResult",
        "EraseResult",
        "CallbackBody",
        "ConsentRequest",
        "ConsentResult",
    } <= set(doc["components"]["schemas"])
    consent = doc["paths"]["/privacy/v1/consent"]["post"]
    assert consent["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConsentRequest"
    }
    assert set(consent["responses"]) == {"200", "202", "401", "422"}
