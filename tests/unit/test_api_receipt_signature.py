"""REST API: the erasure receipt is signed, and the key that checks it is public."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from rightsflow.domain.signature import key_id, load_public_key, verify_document
from rightsflow.services import execution, receipt
from rightsflow.services.platform import Platform
from tests.unit.fakes import ApiHarness, api_harness

URL = "/api/v1/privacy-requests"
KEY_URL = "/api/v1/receipt-signing-key"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(tmp_path) as harness:
        yield harness


def _erased(api: ApiHarness) -> str:
    body = {
        "type": "erasure",
        "identities": {"email": "ada@example.com"},
        "regime": "gdpr",
        "identity_verified": True,
    }
    response = api.client.post(URL, json=body)
    assert response.status_code == 202, response.text
    request_id: str = response.json()["id"]
    execution.begin(api.platform, request_id)
    execution.finish(api.platform, request_id)
    return request_id


def _published_key(api: ApiHarness) -> bytes:
    response = api.client.get(KEY_URL, headers={"Authorization": ""})  # no token needed
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-pem-file"
    raw = load_public_key(response.text)
    assert response.headers["rightsflow-key-id"] == key_id(raw) == api.platform.signer.key_id()
    return raw


def test_the_receipt_carries_a_valid_signature(api: ApiHarness) -> None:
    request_id = _erased(api)
    response = api.client.get(f"{URL}/{request_id}/receipt")
    assert response.status_code == 200, response.text
    signed = response.json()
    assert signed["format"] == "rightsflow.receipt/v1"
    assert (signed["type"], signed["regime"], signed["request_id"]) == (
        "erasure",
        "gdpr",
        request_id,
    )
    assert datetime.fromisoformat(signed["issued_at"]) > datetime.fromisoformat(
        signed["received_at"]
    )
    assert signed["lines"]
    result = verify_document(signed, [_published_key(api)])
    assert (result.valid, result.pinned, result.reason) == (True, True, None)
    assert "ada@example.com" not in response.text

    tampered = copy.deepcopy(signed)
    tampered["verified"] = True
    assert not verify_document(tampered, [_published_key(api)]).valid


def test_the_published_key_is_in_the_openapi_document(api: ApiHarness) -> None:
    spec = api.client.get("/openapi.json").json()
    assert KEY_URL in spec["paths"]
    assert "security" not in spec["paths"][KEY_URL]["get"]
    receipt_schema = spec["components"]["schemas"]["ReceiptOut"]
    assert {"format", "issued_at", "signature"} <= set(receipt_schema["properties"])


class Strategy(StrEnum):
    HASH = "hash"


@dataclass(frozen=True)
class RicherLine:
    collection: str
    fields: tuple[tuple[str, Strategy], ...]
    exemption: str | None
    checked_at: datetime


@dataclass(frozen=True)
class RicherReceipt:
    """Stands in for the Receipt dataclass once it grows fields the API schema does not list."""

    request_id: str
    verified: bool
    lines: list[RicherLine] = field(default_factory=list)


def test_whatever_the_receipt_holds_is_signed_and_sent(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = _erased(api)
    line = RicherLine(
        "shop:customers",
        (("email", Strategy.HASH),),
        "legal hold",
        datetime(2025, 3, 2, tzinfo=UTC),
    )

    def richer(_platform: Platform, rid: str) -> Any:
        return RicherReceipt(rid, True, [line])

    monkeypatch.setattr(receipt, "build", richer)
    signed = api.client.get(f"{URL}/{request_id}/receipt").json()
    assert signed["lines"] == [
        {
            "collection": "shop:customers",
            "fields": [["email", "hash"]],
            "exemption": "legal hold",
            "checked_at": "2025-03-02T00:00:00+00:00",
        }
    ]
    assert verify_document(signed, [_published_key(api)]).valid
