"""The erasure receipt: per collection what was found, erased, kept (and why), and re-checked."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from rightsflow.domain.errors import Conflict, RightsflowError
from rightsflow.domain.requests import RequestType
from rightsflow.services.execution import load_plan
from rightsflow.services.platform import Platform


@dataclass(frozen=True)
class ReceiptLine:
    collection: str
    system: str
    action: str  # mask | delete | keep
    rows_found: int = 0
    rows_masked: int = 0
    rows_deleted: int = 0
    rows_kept: int = 0
    kept_reason: str | None = None
    recheck: str = "not run"  # "verified" | "N rows still hold targeted data" | "not run"


@dataclass(frozen=True)
class Receipt:
    request_id: str
    status: str
    policy: str
    verified: bool
    lines: list[ReceiptLine] = field(default_factory=list)
    not_reached: list[dict[str, str]] = field(default_factory=list)


def build(platform: Platform, request_id: str) -> Receipt:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        results = {(r.address, r.phase): r for r in uow.results.for_request(request_id)}
    if request.type is not RequestType.ERASURE:
        raise Conflict("only erasure requests have a receipt")
    plan = load_plan(platform, request_id, require_executing=False)
    lines = []
    for node in plan.nodes:
        found = results.get((node.address, "retrieve"))
        erased = results.get((node.address, "erase"))
        check = results.get((node.address, "recheck"))
        rows_found = found.rows_found if found and found.status == "done" else 0
        if not node.erases:
            lines.append(
                ReceiptLine(
                    node.address,
                    node.system,
                    "keep",
                    rows_found,
                    rows_kept=rows_found,
                    kept_reason="no data categories targeted by the policy",
                    recheck="not needed",
                )
            )
            continue
        lines.append(
            ReceiptLine(
                node.address,
                node.system,
                node.action,
                rows_found,
                rows_masked=erased.rows_masked if erased and erased.status == "done" else 0,
                rows_deleted=erased.rows_deleted if erased and erased.status == "done" else 0,
                recheck=_recheck_text(check.remaining if check else None),
            )
        )
    skipped = [{"collection": s.address, "reason": s.reason} for s in plan.skipped]
    verified = bool(lines) and all(ln.recheck in ("verified", "not needed") for ln in lines)
    return Receipt(
        request_id,
        request.status.value,
        plan.policy_key,
        verified and request.status.value == "completed",
        lines,
        skipped,
    )


def _recheck_text(remaining: int | None) -> str:
    if remaining is None:
        return "not run"
    return "verified" if remaining == 0 else f"{remaining} rows still hold targeted data"


RECEIPT_FORMAT = "rightsflow.receipt/v1"


def signed(platform: Platform, request_id: str) -> dict[str, Any]:
    """The receipt as a JSON document, signed by the platform's signer.

    Every field of `Receipt` goes in as it is, whatever fields it grows, plus the envelope:
    format, issue time and what the request was (type, regime, when received)."""
    body = _json_ready(asdict(build(platform, request_id)))
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
    envelope = {
        "format": RECEIPT_FORMAT,
        "issued_at": platform.clock().isoformat(),
        "type": request.type.value,
        "regime": request.regime,
        "received_at": request.received_at.isoformat(),
    }
    clash = sorted(envelope.keys() & body.keys())
    if clash:  # a Receipt field may not silently override (or be overridden by) the envelope
        raise RightsflowError(f"receipt fields clash with its envelope: {', '.join(clash)}")
    return platform.signer.sign(envelope | body)


def _json_ready(value: dict[str, Any]) -> dict[str, Any]:
    """What the document looks like after JSON (tuples as lists, enums and times as text), so
    the signature covers exactly what a client receives and parses."""
    ready: dict[str, Any] = json.loads(json.dumps(value, default=_json_default))
    return ready


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} in a receipt has no JSON form")
