"""Asking systems that answer for themselves (internal services, people) and waiting for them.

The workflow asks (`ask`), and when the answer is not immediate waits for a signal, reminding
(`remind`) on a timer; when time runs out it gives up on that system (`give_up`) and the rest
of the request goes on. Every step is audited; nothing here holds personal data in the clear
outside the call sent to the system itself.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from rightsflow.domain.connector import (
    Callback,
    Scalar,
    SystemAnswer,
    SystemCall,
    SystemConnector,
)
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.domain.records import SystemCallRecord
from rightsflow.services import audit
from rightsflow.services.execution import load_plan
from rightsflow.services.lookups import lookup_for
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.subject import open_subject
from rightsflow.services.system_answers import settle, system_nodes


@dataclass(frozen=True)
class CallState:
    """What the workflow needs to wait: no personal data."""

    status: str  # "done" | "pending"
    answer_within_s: float = 0.0
    remind_every_s: float = 0.0


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ask(platform: Platform, request_id: str, system: str, operation: str) -> CallState:
    """Ask `system` to do `operation` ("access", "erase" or "recheck") for the request's
    subject. Re-asking after a crash or retry is safe: the system's idempotency key is the
    request id, and an answer already recorded is kept."""
    plan = load_plan(platform, request_id)
    connector = platform.connectors.system_connector(system)
    with platform.uow() as uow:
        existing = uow.calls.find(request_id, system, operation)
        if existing is not None and existing.status == "answered":
            return CallState("done")
        token = secrets.token_urlsafe(32)
        now = platform.clock()
        call = SystemCallRecord(
            id=existing.id if existing else str(uuid.uuid4()),
            request_id=request_id,
            system=system,
            operation=operation,
            status="pending",
            issued_at=now,
            due_at=now + timedelta(seconds=connector.wait.answer_within_s),
            token_hash=token_digest(token),
            assignee=connector.wait.assignee,
        )
        uow.calls.put(call)
        audit.record(uow, request_id, "system.asked", now, system=system, operation=operation)
        uow.commit()
    question = _question(platform, plan, call, token)
    answer = _call(platform, connector, call, question)
    with platform.uow() as uow:
        current = uow.calls.get(call.id)
        if current.status == "answered":  # the callback beat us to it
            return CallState("done")
        if not answer.pending:
            settle(platform, uow, plan, current, answer, actor="service")
            uow.commit()
            return CallState("done")
        audit.record(
            uow, request_id, "system.pending", platform.clock(), system=system, operation=operation
        )
        uow.commit()
    if connector.wait.assignee:
        _tell_assignee(platform, call, connector, token)
    return CallState("pending", connector.wait.answer_within_s, connector.wait.remind_every_s)


def _call(
    platform: Platform, connector: SystemConnector, call: SystemCallRecord, question: SystemCall
) -> SystemAnswer:
    try:
        return connector.call(question)
    except ConnectorFailure as exc:
        with platform.uow() as uow:
            record = uow.calls.get(call.id)
            record.status, record.detail = "failed", str(exc)
            uow.calls.put(record)
            audit.record(
                uow,
                call.request_id,
                "system.call_failed",
                platform.clock(),
                system=call.system,
                operation=call.operation,
                reason=str(exc),
                retryable=exc.retryable,
            )
            uow.commit()
        raise


def _question(
    platform: Platform, plan: ExecutionPlan, call: SystemCallRecord, token: str
) -> SystemCall:
    nodes = system_nodes(plan, call.system, call.operation)
    with platform.uow() as uow:
        identities, keys = subject_inputs(platform, uow, plan, call.request_id, nodes)
    request_id, system, operation = sent_as(call)
    return SystemCall(
        request_id=request_id,
        system=system,
        operation=operation,
        collections=tuple(nodes),
        identities=identities,
        keys=keys,
        categories=_categories(nodes),
        callback=Callback(f"{platform.public_url}/api/v1/callbacks/{call.id}", token),
    )


def subject_inputs(
    platform: Platform,
    uow: UnitOfWork,
    plan: ExecutionPlan,
    request_id: str,
    nodes: Sequence[PlanNode],
) -> tuple[dict[str, str], dict[str, list[Scalar]]]:
    """What a system is told to find the subject by: the identities its collections are keyed
    on, and the values found upstream for the fields they take from other collections."""
    subject = open_subject(platform.vault, request_id, uow.requests.sealed_identities(request_id))
    identities = {
        given.identity: subject.identities[given.identity]
        for node in nodes
        for given in node.identity_inputs
        if given.identity in subject.identities
    }
    keys: dict[str, dict[Scalar, None]] = {}  # ordered sets
    for node in nodes:
        by_identity = {given.field for given in node.identity_inputs}
        lookup = lookup_for(platform, uow, request_id, plan, node)
        for name, values in lookup.values.items():
            if name not in by_identity:
                keys.setdefault(name, {}).update(dict.fromkeys(values))
    return identities, {name: list(values) for name, values in keys.items()}


def sent_as(call: SystemCallRecord) -> tuple[str, str, str]:
    """(request id, system, operation) as the system sees them. The request id is its
    idempotency key, so a re-check must not reuse the first access's id (nor its answer)."""
    if call.operation == "recheck":
        return f"{call.request_id}.recheck", call.system, "access"
    return call.request_id, call.system, call.operation


def _categories(nodes: list[PlanNode]) -> tuple[str, ...]:
    return tuple(sorted({c for n in nodes for t in n.targets for c in t.categories}))


def _tell_assignee(
    platform: Platform, call: SystemCallRecord, connector: SystemConnector, token: str
) -> None:
    assignee = connector.wait.assignee
    assert assignee is not None  # noqa: S101 (checked by the caller)
    link = f"{platform.public_url}/api/v1/tasks/{call.id}"
    platform.notifier.send(
        assignee,
        f"Privacy task: {call.operation} in {call.system}",
        (
            f"A privacy request needs you to {call.operation} a person's data in "
            f"{call.system}, by {call.due_at.isoformat()}.\n\n"
            f"{connector.wait.instructions or ''}\n\n"
            f"See whose data and attest what you did:\n  GET {link}\n  POST {link}/attestation\n"
            f"with the header: Authorization: Bearer {token}\n"
        ),
    )


def remind(platform: Platform, request_id: str, system: str, operation: str) -> str:
    """A reminder on the workflow's timer: returns "answered" if an answer is recorded (its
    signal was lost), else tells whoever was asked (or the operators) and returns "waiting"."""
    with platform.uow() as uow:
        call = uow.calls.find(request_id, system, operation)
        if call is None or call.status == "answered":
            return "answered" if call else "waiting"
        call.reminders += 1
        uow.calls.put(call)
        audit.record(
            uow,
            request_id,
            "system.reminded",
            platform.clock(),
            system=system,
            operation=operation,
            reminders=call.reminders,
        )
        uow.commit()
    platform.notifier.send(
        call.assignee or platform.operators,
        f"Reminder: privacy request waits for {system}",
        f"Request {request_id} still waits for {system} to {operation}; it is due "
        f"{call.due_at.isoformat()}. Reminder {call.reminders}.\n",
    )
    return "waiting"


def give_up(platform: Platform, request_id: str, system: str, operation: str, why: str) -> str:
    """Mark the system overdue (no answer in time) or failed (it kept failing); the operators
    are told and the rest of the request goes on. Returns the reason for the request."""
    with platform.uow() as uow:
        call = uow.calls.find(request_id, system, operation)
        if call is not None and call.status == "answered":
            return ""
        status = "overdue" if why == "overdue" else "failed"
        reason = (
            f"{system}: no answer to {operation} by {call.due_at.isoformat()}"
            if status == "overdue" and call is not None
            else f"{system}: {operation} failed: {why}"
        )
        if call is not None:
            call.status, call.detail = status, reason
            uow.calls.put(call)
        audit.record(
            uow,
            request_id,
            f"system.{status}",
            platform.clock(),
            system=system,
            operation=operation,
            reason=reason,
        )
        uow.commit()
    platform.notifier.send(
        platform.operators,
        f"Privacy request {request_id}: {system} {status}",
        f"{reason}.\nThe rest of the request went on. A late answer is still accepted; "
        "retry the request to use it.\n",
    )
    return reason


def outcome(platform: Platform, request_id: str, system: str, operation: str) -> str:
    """Empty when the system answered and did what was asked; else why not (no free text:
    a person's reason stays in the store and the receipt, out of workflow history)."""
    with platform.uow() as uow:
        call = uow.calls.find(request_id, system, operation)
    if call is None or call.status != "answered":
        return f"{system}: no answer to {operation}"
    if call.outcome == "cannot_comply":
        return f"{system}: {operation} cannot be done (reason on the receipt)"
    return ""
