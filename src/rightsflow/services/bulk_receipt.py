"""One receipt per subject of a bulk job: per collection what was found, erased, kept (and
why), and re-checked; signed like a request's receipt (services/receipt.py, the same lines,
signer and JSON form), so `rightsflow receipt verify` checks it offline the same way."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from rightsflow.domain.bulk import BulkKind, CollectionOutcome
from rightsflow.domain.errors import NotFound
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.services.platform import Platform
from rightsflow.services.receipt import (
    ReceiptLine,
    fields_written,
    is_checked,
    json_ready,
    recheck_text,
)

BULK_RECEIPT_FORMAT = "rightsflow.bulk-receipt/v1"


def signed(platform: Platform, job_id: str, seq: int) -> dict[str, Any]:
    """The signed receipt of the subject on line `seq` of the job's file."""
    with platform.uow() as uow:
        job = uow.bulk.get_job(job_id)
        record = uow.bulk.subject(job_id, seq)
        raw_plan = uow.bulk.plan(job_id)
    if record is None:
        raise NotFound("no outcome for this line (yet): see the job's progress")
    plan = ExecutionPlan.from_dict(raw_plan)
    outcomes = {c.address: c for c in record.collections}
    erasing = job.kind is BulkKind.ERASE
    lines = [
        _line(node, outcomes.get(node.address), erasing, checked=record.problem is None)
        for node in plan.nodes
        if erasing or node.action == "return"
    ]
    document = {
        "format": BULK_RECEIPT_FORMAT,
        "issued_at": platform.clock().isoformat(),
        "type": "erasure" if erasing else "access",
        "regime": job.regime,
        "received_at": job.created_at.isoformat(),
        "job_id": job.id,
        "seq": record.seq,
        "status": record.status,
        "problem": record.problem,
        "policy": job.policy_key,
        "verified": erasing and bool(lines) and all(is_checked(ln.recheck) for ln in lines),
        "lines": [asdict(ln) for ln in lines],
        "not_reached": [{"collection": s.address, "reason": s.reason} for s in plan.skipped],
    }
    return platform.signer.sign(json_ready(document))


def _line(
    node: PlanNode, outcome: CollectionOutcome | None, erasing: bool, *, checked: bool
) -> ReceiptLine:
    """`checked`: the subject came through without a problem, so its re-check ran; a subject
    with a problem was left out of the engine's later steps, so its zero counts prove nothing."""
    found = outcome.rows_found if outcome else 0
    base = ReceiptLine(node.address, node.system, node.action, found, fields=fields_written(node))
    if not erasing:
        return replace(base, recheck="not needed")
    if not node.erases:
        reason = (
            f"exemption: {node.exemption.legal_basis}"
            if node.exemption
            else "no data categories targeted by the policy"
        )
        return replace(
            base,
            rows_kept=found,
            exemption=node.exemption,
            kept_reason=reason,
            recheck="not needed",
        )
    if outcome is None:  # the subject failed before this collection ran
        return base
    return replace(
        base,
        rows_masked=outcome.rows_masked,
        rows_deleted=outcome.rows_deleted,
        rows_kept=outcome.rows_kept,
        exemption=node.exemption,
        recheck=recheck_text(outcome.remaining, node.action)
        if checked or outcome.remaining
        else "not run",
    )
