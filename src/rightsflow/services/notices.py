"""Mail to the subject and to operators about a request, each one audited.

Bodies carry the request id, dates and reason codes: never the subject's data. The subject's
address is opened from the sealed identities only to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rightsflow.domain.requests import PrivacyRequest
from rightsflow.services import audit
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.subject import open_subject


def day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Mail:
    kind: str  # what the audit records it as, e.g. "extended"
    title: str
    body: str


def tell_subject(
    platform: Platform,
    uow: UnitOfWork,
    request: PrivacyRequest,
    mail: Mail,
    now: datetime,
) -> bool:
    """Mail the subject if they gave an email address; audit either way."""
    if "email" not in request.identity_types:
        audit.record(
            uow, request.id, "subject.not_told", now, kind=mail.kind, why="no email identity"
        )
        return False
    sealed = uow.requests.sealed_identities(request.id)
    to = open_subject(platform.vault, request.id, sealed).identities["email"]
    text = f"{mail.body}\n\nRequest reference: {request.id}\n"
    platform.notifier.send(to, f"{mail.title} ({request.type.value} request)", text)
    audit.record(uow, request.id, "email.sent", now, to="subject", kind=mail.kind)
    return True


def tell_operators(
    platform: Platform,
    uow: UnitOfWork,
    request: PrivacyRequest,
    mail: Mail,
    now: datetime,
) -> None:
    link = f"{platform.public_url}/api/v1/privacy-requests/{request.id}"
    text = (
        f"{mail.body}\n\nRequest {request.id}: {request.type.value}, {request.regime}, "
        f"{request.status.value}, due {day(request.due_at)}\n{link}\n"
    )
    platform.notifier.send(platform.operators, f"[rightsflow] {mail.title}", text)
    audit.record(uow, request.id, "email.sent", now, to="operators", kind=mail.kind)
