"""Manual tasks: a person asked to find or erase a subject's data in a system nobody can
automate, who attests what they did.

A task is a system call with an assignee (`SystemCallRecord.assignee`, set from the connector's
`WaitPolicy`), so every connector that asks a person is served here, the built-in `manual` one
and any plugin alike. The call's one-time token, sent only to the assignee, unlocks the task:
the subject's identities are shown in `task_view` and nowhere else (not in the list, not in the
notification), and the token is spent by the attestation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rightsflow.domain.connector import Scalar
from rightsflow.domain.errors import Conflict, NotFound, Refused
from rightsflow.domain.plan import PlanNode
from rightsflow.domain.records import SystemCallRecord
from rightsflow.services import audit
from rightsflow.services.attestation import Attestation, answer_for
from rightsflow.services.callbacks import admit
from rightsflow.services.execution import planned
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.system_answers import settle, system_nodes
from rightsflow.services.system_calls import subject_inputs

__all__ = [
    "Attestation",
    "TaskCollection",
    "TaskSummary",
    "TaskTarget",
    "TaskView",
    "attest",
    "attest_from_console",
    "check_token",
    "open_tasks",
    "request_tasks",
    "task_view",
]

VIA = "task"  # audit events: "task.refused", "task.viewed", "task.attested"


@dataclass(frozen=True)
class TaskSummary:
    """A task as listed: ids, names and times only (no identities, no token)."""

    id: str
    request_id: str
    system: str
    operation: str  # "access" | "erase"
    status: str  # "pending" | "overdue"
    assignee: str
    issued_at: datetime
    due_at: datetime
    reminders: int


@dataclass(frozen=True)
class TaskTarget:
    """A field the request is about; `erase` says how to erase it (erase tasks that mask)."""

    path: str
    categories: tuple[str, ...]
    erase: str | None = None


@dataclass(frozen=True)
class TaskCollection:
    name: str  # the key to use in an attestation's `rows` / `counts`
    address: str
    action: str  # "return" (access) | "mask" | "delete" | ...
    fields: tuple[str, ...]  # the fields an access attestation may return
    targets: tuple[TaskTarget, ...]


@dataclass(frozen=True)
class TaskView:
    """Everything the assignee needs to do the task, including whose data it is."""

    task: TaskSummary
    instructions: str
    collections: tuple[TaskCollection, ...]
    identities: Mapping[str, str] = field(repr=False)  # identity type -> the subject's value
    keys: Mapping[str, list[Scalar]] = field(repr=False)  # field -> values found upstream


def open_tasks(platform: Platform, assignee: str | None = None) -> list[TaskSummary]:
    """Tasks waiting for an attestation (overdue ones too: a late answer is still accepted),
    soonest due first; optionally only one person's."""
    with platform.uow() as uow:
        calls = uow.calls.awaiting(assignee)
    return [_summary(c) for c in calls if c.assignee is not None]


def check_token(platform: Platform, call_id: str, token: str) -> None:
    """Refuse (audited) unless `token` opens a task still waiting; changes nothing otherwise.
    The API calls this before it reads a request body."""
    with platform.uow() as uow:
        _admit_task(platform, uow, call_id, token)


def task_view(platform: Platform, call_id: str, token: str) -> TaskView:
    """The task with the subject's identities (and keys found upstream) for its collections.
    Every view is audited."""
    with platform.uow() as uow:
        call = _admit_task(platform, uow, call_id, token)
        plan = planned(uow, call.request_id)
        nodes = system_nodes(plan, call.system, call.operation)
        identities, keys = subject_inputs(platform, uow, plan, call.request_id, nodes)
        audit.record(
            uow,
            call.request_id,
            f"{VIA}.viewed",
            platform.clock(),
            actor=call.assignee or "assignee",
            system=call.system,
            operation=call.operation,
        )
        uow.commit()
    instructions = platform.connectors.system_connector(call.system).wait.instructions
    return TaskView(
        task=_summary(call),
        instructions=instructions or "",
        collections=tuple(_collection(n) for n in nodes),
        identities=identities,
        keys=keys,
    )


def attest(
    platform: Platform, call_id: str, token: str, attestation: Attestation
) -> SystemCallRecord:
    """Record what the assignee did, in one transaction with the call's new state; returns the
    answered call (the caller signals the request's workflow). The token is spent: a second
    attestation is refused and audited. An invalid attestation (`InvalidInput`) spends nothing."""
    with platform.uow() as uow:
        call = _admit_task(platform, uow, call_id, token)
        _record(platform, uow, call, attestation)
        uow.commit()
    return call


def attest_from_console(
    platform: Platform, request_id: str, call_id: str, operator: str, attestation: Attestation
) -> SystemCallRecord:
    """`attest` for a console operator (the caller checked their scope) instead of the token:
    the operator attests on the assignee's behalf, which the audit trail says. The token is
    spent all the same (the task is answered); a task already answered is a `Conflict`."""
    with platform.uow() as uow:
        call = uow.calls.get(call_id)
        if call.request_id != request_id or call.assignee is None:
            raise NotFound("no such manual task on this request")
        if not call.awaiting:
            raise Conflict(f"this task is no longer waiting for an attestation ({call.status})")
        _record(platform, uow, call, attestation)
        audit.record(
            uow,
            call.request_id,
            f"{VIA}.attested",
            platform.clock(),
            actor=operator,
            system=call.system,
            operation=call.operation,
            via="console",
            on_behalf_of=call.assignee,
        )
        uow.commit()
    return call


def request_tasks(
    platform: Platform, request_id: str
) -> list[tuple[TaskSummary, list[TaskCollection]]]:
    """A request's tasks still waiting, each with its collections (no identities): what the
    console's attestation forms ask about."""
    with platform.uow() as uow:
        calls = [c for c in uow.calls.for_request(request_id) if c.awaiting and c.assignee]
        if not calls:
            return []
        plan = planned(uow, request_id)
    return [
        (_summary(c), [_collection(n) for n in system_nodes(plan, c.system, c.operation)])
        for c in calls
    ]


def _record(
    platform: Platform, uow: UnitOfWork, call: SystemCallRecord, attestation: Attestation
) -> None:
    plan = planned(uow, call.request_id)
    answer = answer_for(system_nodes(plan, call.system, call.operation), call, attestation)
    # A person's reason stays in our store and on the receipt, never in workflow history.
    call.detail = attestation.reason.strip() if attestation.reason else None
    settle(
        platform,
        uow,
        plan,
        call,
        answer,
        actor=attestation.attested_by.strip(),
        outcome=attestation.outcome,
    )


def _admit_task(platform: Platform, uow: UnitOfWork, call_id: str, token: str) -> SystemCallRecord:
    call = admit(platform, uow, call_id, token, VIA)
    if call.assignee is None:
        # A service's call: it must answer with a signed callback, not an attestation.
        audit.record(
            uow,
            call.request_id,
            f"{VIA}.refused",
            platform.clock(),
            system=call.system,
            operation=call.operation,
            reason="not a task for a person",
        )
        uow.commit()
        raise Refused(f"{VIA} refused: not a task for a person")
    return call


def _summary(call: SystemCallRecord) -> TaskSummary:
    return TaskSummary(
        id=call.id,
        request_id=call.request_id,
        system=call.system,
        operation=call.operation,
        status=call.status,
        assignee=call.assignee or "",
        issued_at=call.issued_at,
        due_at=call.due_at,
        reminders=call.reminders,
    )


def _collection(node: PlanNode) -> TaskCollection:
    masking = node.action == "mask"
    return TaskCollection(
        name=node.collection,
        address=node.address,
        action=node.action,
        fields=node.fetch_fields,
        targets=tuple(
            TaskTarget(
                t.path,
                t.categories,
                (t.strategy.value if t.strategy else "null") if masking else None,
            )
            for t in node.targets
        ),
    )
