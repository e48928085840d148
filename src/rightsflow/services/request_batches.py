"""Reads over many requests at once: one query per kind of thing, whatever the number of
requests (the GraphQL API's dataloaders batch a page of requests' plans, results and audit
events through these instead of reading them request by request)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rightsflow.services.platform import Platform
from rightsflow.services.ports import AuditEvent, NodeResult


def plans(platform: Platform, request_ids: Sequence[str]) -> list[dict[str, Any] | None]:
    """Each request's stored plan (None: not planned yet, or no such request), in order."""
    with platform.uow() as uow:
        found = uow.requests.plans(request_ids)
    return [found.get(request_id) for request_id in request_ids]


def results(platform: Platform, request_ids: Sequence[str]) -> list[list[NodeResult]]:
    """Each request's node results, in the order of `request_ids`."""
    with platform.uow() as uow:
        found = uow.results.for_requests(request_ids)
    grouped: dict[str, list[NodeResult]] = {request_id: [] for request_id in request_ids}
    for result in found:
        grouped[result.request_id].append(result)
    return [grouped[request_id] for request_id in request_ids]


def audit_events(platform: Platform, request_ids: Sequence[str]) -> list[list[AuditEvent]]:
    """Each request's audit events, oldest first, in the order of `request_ids`."""
    with platform.uow() as uow:
        found = uow.audit.for_requests(request_ids)
    grouped: dict[str, list[AuditEvent]] = {request_id: [] for request_id in request_ids}
    for event in found:
        if event.request_id in grouped:
            grouped[event.request_id].append(event)
    return [grouped[request_id] for request_id in request_ids]
