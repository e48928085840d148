"""The request's clock, as its workflow's durable timers see it: at `at`, send whatever
reminders and escalations are due (each once), expire a request never verified, and say when
to look again. `at` is the workflow's time, so a time-skipping test server drives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rightsflow.domain.requests import TERMINAL, PrivacyRequest, RequestStatus
from rightsflow.services import audit
from rightsflow.services.lifecycle_rules import LifecycleRules
from rightsflow.services.notices import Mail, day, tell_operators, tell_subject
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork


@dataclass(frozen=True)
class Tick:
    closed: bool  # the request reached a terminal state: no more timers
    next_at: str | None = None  # ISO-8601 UTC of the next timer; None: wait for a change


@dataclass(frozen=True)
class Notice:
    at: datetime
    mail: Mail  # its kind is unique per deadline, so an extension re-arms the reminders


def notices(rules: LifecycleRules, request: PrivacyRequest) -> list[Notice]:
    """Everything the clock will say about this request, sent or not."""
    out: list[Notice] = []
    if request.acknowledge_by is not None and request.acknowledged_at is None:
        out.append(
            Notice(
                request.acknowledge_by,
                Mail(
                    "ack-overdue",
                    "Receipt not acknowledged",
                    "The law's time to acknowledge receipt has passed and the subject could not "
                    "be told by mail; acknowledge it another way.",
                ),
            )
        )
    if request.paused_since is not None:  # the clock is stopped until identity is proven
        return out
    due, start = request.due_at, request.clock_started_at or request.received_at
    stamp = due.isoformat()
    for before in sorted(rules.remind_before, reverse=True):
        when = due - before
        if when > start:
            days = before.days or f"{before.total_seconds() / 86400:g}"
            out.append(
                Notice(
                    when,
                    Mail(
                        f"due-in-{days}d@{stamp}",
                        f"Request due in {days} day(s)",
                        f"Finish it by {day(due)}.",
                    ),
                )
            )
    overdue = Mail(f"overdue@{stamp}", "Request OVERDUE", f"The deadline was {day(due)}.")
    out.append(Notice(due, overdue))
    return out


def tick(platform: Platform, request_id: str, at: datetime) -> Tick:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status in TERMINAL:
            return Tick(closed=True)
        if _unverified_too_long(request, at):
            _expire(platform, uow, request, at)
            uow.commit()
            return Tick(closed=True)
        upcoming = _send_due(platform, uow, request, at)
        uow.commit()
    if request.status is RequestStatus.AWAITING_VERIFICATION and request.verify_by:
        upcoming.append(request.verify_by)
    later = [w for w in upcoming if w > at]
    return Tick(closed=False, next_at=min(later).isoformat() if later else None)


def _unverified_too_long(request: PrivacyRequest, at: datetime) -> bool:
    return (
        request.status is RequestStatus.AWAITING_VERIFICATION
        and request.verify_by is not None
        and at >= request.verify_by
    )


def _send_due(
    platform: Platform, uow: UnitOfWork, request: PrivacyRequest, at: datetime
) -> list[datetime]:
    """Send the notices that are due and not yet sent; return when the others fall due."""
    sent, upcoming = list(request.deadline_notices), []
    for notice in notices(platform.lifecycle, request):
        kind = notice.mail.kind
        if kind in sent:
            continue
        if notice.at > at:
            upcoming.append(notice.at)
            continue
        tell_operators(platform, uow, request, notice.mail, at)
        action = "deadline.overdue" if kind.startswith("overdue") else "deadline.reminder"
        audit.record(uow, request.id, action, at, kind=kind, due_at=request.due_at.isoformat())
        sent.append(kind)
    if len(sent) != len(request.deadline_notices):
        request.deadline_notices = tuple(sent)
        uow.requests.save(request)
    return upcoming


def _expire(platform: Platform, uow: UnitOfWork, request: PrivacyRequest, at: datetime) -> None:
    request.paused_since = None
    audit.transition(
        uow, request, RequestStatus.EXPIRED, at, reason="identity not verified in time"
    )
    body = (
        "We closed your request because your identity was not verified in time. "
        "You are welcome to make a new request."
    )
    tell_subject(platform, uow, request, Mail("expired", "Your request was closed", body), at)
