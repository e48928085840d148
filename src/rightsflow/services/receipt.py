"""The erasure receipt: per collection what was found, erased, kept (and why), and re-checked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from rightsflow.domain.datamap import Exemption
from rightsflow.domain.errors import Conflict, RightsflowError
from rightsflow.domain.plan import PlanNode
from rightsflow.domain.policy import MaskStrategy
from rightsflow.domain.records import NodeResult, SystemCallRecord
from rightsflow.services.execution import load_plan
from rightsflow.services.platform import Platform
from rightsflow.services.write_steps import left_behind


@dataclass(frozen=True)
class FieldWritten:
    field: str
    strategy: str  # a masking strategy, "detached" (set NULL), "restricted" or "corrected"
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReceiptLine:
    collection: str
    system: str
    action: str  # delete | mask | keep | restrict | rectify | read
    rows_found: int = 0
    rows_masked: int = 0
    rows_deleted: int = 0
    rows_updated: int = 0  # restriction and rectification
    rows_kept: int = 0
    fields: tuple[FieldWritten, ...] = ()
    exemption: Exemption | None = None
    kept_reason: str | None = None
    # "verified" | "N rows ..." | "not needed" | "not run" | "attested <outcome> by <who>"
    recheck: str = "not run"
    # What the write did beyond rows, e.g. {"files_rewritten": [...]}: names and ids only.
    evidence: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SystemLine:
    """A question put to a system that answers for itself (a service or a person)."""

    system: str
    operation: str  # access | erase | recheck
    status: str  # answered | pending | overdue | failed
    asked_at: datetime
    due_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None  # "service", or the person who attested
    outcome: str | None = None  # done | no_data | cannot_comply
    detail: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    request_id: str
    status: str
    policy: str
    verified: bool
    lines: list[ReceiptLine] = field(default_factory=list)
    not_reached: list[dict[str, str]] = field(default_factory=list)
    systems: list[SystemLine] = field(default_factory=list)


def build(platform: Platform, request_id: str) -> Receipt:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        results = {(r.address, r.phase): r for r in uow.results.for_request(request_id)}
        calls = list(uow.calls.for_request(request_id))
    if request.type.reads_only:
        raise Conflict(f"{request.type.value} requests have a package, not a receipt")
    plan = load_plan(platform, request_id, require_executing=False)
    attested = {c.system: c for c in calls if c.operation == "erase" and _attested(c)}
    lines = [_with_attestation(_line(node, results), attested) for node in plan.nodes]
    skipped = [{"collection": s.address, "reason": s.reason} for s in plan.skipped]
    verified = bool(lines) and all(is_checked(ln.recheck) for ln in lines)
    return Receipt(
        request_id,
        request.status.value,
        plan.policy_key,
        verified and request.status.value == "completed",
        lines,
        skipped,
        [_system_line(c) for c in calls],
    )


def _attested(call: SystemCallRecord) -> bool:
    return call.status == "answered" and call.actor not in (None, "service")


def _with_attestation(line: ReceiptLine, attested: Mapping[str, SystemCallRecord]) -> ReceiptLine:
    call = attested.get(line.system)
    if call is None or line.recheck != "not run":
        return line
    return replace(line, recheck=f"attested {call.outcome} by {call.actor}")


def is_checked(recheck: str) -> bool:
    """A person's attestation counts: nobody can re-read a system only a person can reach."""
    return recheck in ("verified", "not needed") or recheck.startswith(
        ("attested done", "attested no_data")
    )


def _system_line(call: SystemCallRecord) -> SystemLine:
    return SystemLine(
        call.system,
        call.operation,
        call.status,
        call.issued_at,
        call.due_at,
        call.answered_at,
        call.actor,
        call.outcome,
        call.detail,
        dict(call.counts),
    )


def _line(node: PlanNode, results: Mapping[tuple[str, str], NodeResult]) -> ReceiptLine:
    found = _done(results.get((node.address, "retrieve")))
    written = _done(results.get((node.address, "erase")))
    check = results.get((node.address, "recheck"))
    rows_found = found.rows_found if found else 0
    base = ReceiptLine(
        node.address, node.system, node.action, rows_found, fields=fields_written(node)
    )
    if not node.erases:
        reason = (
            f"exemption: {node.exemption.legal_basis}"
            if node.exemption
            else "no data categories targeted by the policy"
        )
        return replace(
            base,
            rows_kept=rows_found,
            exemption=node.exemption,
            kept_reason=reason,
            recheck="not needed",
        )
    changed = written.rows_masked if written else 0
    return replace(
        base,
        # Masked fields and detached references alike are rows written in place.
        rows_masked=changed if node.action not in ("restrict", "rectify") else 0,
        rows_updated=changed if node.action in ("restrict", "rectify") else 0,
        rows_deleted=written.rows_deleted if written else 0,
        rows_kept=rows_found if node.action == "keep" else 0,
        exemption=node.exemption,
        recheck=recheck_text(check.remaining if check else None, node.action),
        evidence=dict(written.evidence) if written else {},
    )


def _done(result: NodeResult | None) -> NodeResult | None:
    return result if result is not None and result.status == "done" else None


def fields_written(node: PlanNode) -> tuple[FieldWritten, ...]:
    if node.action == "restrict" and node.restriction is not None:
        return (FieldWritten(node.restriction.field, "restricted"),)
    out = []
    if node.action in ("mask", "rectify"):
        for t in node.targets:
            strategy = "corrected" if node.action == "rectify" else _strategy(t.strategy)
            out.append(FieldWritten(t.path, strategy, t.categories))
    out.extend(FieldWritten(path, "detached") for path in node.detach)
    return tuple(out)


def _strategy(strategy: MaskStrategy | None) -> str:
    return (strategy or MaskStrategy.NULL).value


def recheck_text(remaining: int | None, action: str) -> str:
    if remaining is None:
        return "not run"
    if remaining == 0:
        return "verified"
    return left_behind(action, remaining)


RECEIPT_FORMAT = "rightsflow.receipt/v1"


def signed(platform: Platform, request_id: str) -> dict[str, Any]:
    """The receipt as a JSON document, signed by the platform's signer.

    Every field of `Receipt` goes in as it is, whatever fields it grows, plus the envelope:
    format, issue time and what the request was (type, regime, when received)."""
    body = json_ready(asdict(build(platform, request_id)))
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


def json_ready(value: dict[str, Any]) -> dict[str, Any]:
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
