"""Recording state changes. Every transition goes through here so none is left unaudited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rightsflow.domain.requests import PrivacyRequest, RequestStatus
from rightsflow.services.ports import AuditEvent, UnitOfWork


def transition(
    uow: UnitOfWork,
    request: PrivacyRequest,
    new: RequestStatus,
    at: datetime,
    *,
    reason: str | None = None,
    actor: str = "system",
    detail: dict[str, Any] | None = None,
) -> None:
    old = request.status
    request.transition(new, at, reason)
    uow.requests.save(request)
    extra = dict(detail or {})
    if reason:
        extra["reason"] = reason
    uow.audit.append(
        AuditEvent(
            request_id=request.id,
            action="request.status_changed",
            at=at,
            actor=actor,
            from_status=old.value,
            to_status=new.value,
            detail=extra,
        )
    )


def record(
    uow: UnitOfWork,
    request_id: str,
    action: str,
    at: datetime,
    *,
    actor: str = "system",
    **detail: Any,
) -> None:
    uow.audit.append(
        AuditEvent(request_id=request_id, action=action, at=at, actor=actor, detail=detail)
    )
