"""Propagating consent records: telling every system with the consent capability about an
opt-out or a withdrawal, with the same retries, receipts and audit as erasure.

The workflow (workflows/consent_workflow.py) runs these steps for one record, ids only:
`begin` chooses the systems and records a pending delivery for each; `tell` tells one system
(the subject's value is opened here from the record's sealed copy, never passed around);
`give_up` marks a system that kept failing and tells the operators; `finish` signs the
record's receipt. Every change of a delivery refreshes the subject's cached state, which
shows which systems confirmed.

A system is told when its connector is a `ConsentReceiver` (spec capability "consent") that
wants the record: its config has not turned telling off, and it knows people by the record's
kind of subject and acts on a purpose the record withdraws. The systems are chosen once per
record: a run started again after a crash tells the same ones, and never a confirmed one twice.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from rightsflow.domain.connector import ConsentNotice, ConsentReceiver
from rightsflow.domain.consent_delivery import (
    CONFIRMED,
    FAILED,
    PENDING,
    Delivery,
    RecordToTell,
    failure_text,
)
from rightsflow.domain.errors import ConnectorFailure, NotFound, RightsflowError
from rightsflow.services import audit, consent_read
from rightsflow.services.platform import Platform

RECEIPT_FORMAT = "rightsflow.consent-propagation/1"
NOT_KEPT = "the subject's identity was not kept with the record (or was erased): cannot tell"


def receiver(platform: Platform, system: str) -> ConsentReceiver | None:
    """The system's connector if it has the consent capability."""
    connectors = platform.connectors
    if connectors.answers_itself(system):
        connector: object = connectors.system_connector(system)
    else:
        connector = connectors.for_system(system)
    return connector if isinstance(connector, ConsentReceiver) else None


def systems_to_tell(platform: Platform, record: RecordToTell) -> list[str]:
    """The data map's systems that want to be told about this record, sorted."""
    withdrawn = record.withdrawn()
    if not withdrawn:
        return []
    chosen = []
    for system in platform.datamap.systems:
        found = receiver(platform, system.key)
        if found is not None and found.wants_consent(record.subject_kind.value, withdrawn):
            chosen.append(system.key)
    return sorted(chosen)


def _record(platform: Platform, record_id: str) -> RecordToTell:
    with platform.uow() as uow:
        record = uow.deliveries.record(record_id)
    if record is None:
        raise NotFound("no such consent record")
    return record


def begin(platform: Platform, record_id: str) -> list[str]:
    """The systems to tell, each with a pending delivery. Chosen on the first run only: a run
    again (after a crash, or a second start) goes on with the deliveries recorded then."""
    record = _record(platform, record_id)
    with platform.uow() as uow:
        known = uow.deliveries.for_record(record_id)
    if known:
        return [d.system for d in known]
    systems = systems_to_tell(platform, record)
    now = platform.clock()
    with platform.uow() as uow:
        uow.deliveries.open(record_id, record.subject_hash, systems, now)
        audit.record(uow, record_id, "consent.propagation_started", now, systems=systems)
        uow.commit()
    if systems:
        consent_read.refresh(platform, record.subject_hash)
    return systems


def tell(platform: Platform, record_id: str, system: str) -> str:
    """Tell one system about the record; its delivery's status afterwards. A system that has
    already taken the record (confirmed, or accepted to apply later) is not told again. A
    failure is counted and raised: the workflow retries it."""
    record = _record(platform, record_id)
    delivery = _delivery(platform, record_id, system)
    if _taken(delivery) or delivery.status == FAILED:
        return delivery.status
    found = receiver(platform, system)
    if found is None:
        raise ConnectorFailure(f"{system}: no longer has the consent capability", retryable=False)
    try:
        ack = found.tell_consent(_notice(platform, record, system))
    except ConnectorFailure as exc:
        _save(platform, delivery, attempts=delivery.attempts + 1, failure=str(exc))
        raise
    status = CONFIRMED if ack.confirmed else PENDING
    now = platform.clock()
    done = dataclasses.replace(
        delivery,
        status=status,
        attempts=delivery.attempts + 1,
        failure=None,
        reference=ack.reference,
        updated_at=now,
    )
    with platform.uow() as uow:
        uow.deliveries.save(done)
        action = "consent.delivered" if ack.confirmed else "consent.accepted"
        audit.record(uow, record_id, action, now, system=system, attempts=done.attempts)
        uow.commit()
    consent_read.refresh(platform, record.subject_hash)
    return status


def _taken(delivery: Delivery) -> bool:
    """Confirmed, or accepted by the system to apply later (an attempt that did not fail)."""
    return delivery.status == CONFIRMED or (
        delivery.status == PENDING and delivery.attempts > 0 and delivery.failure is None
    )


def _delivery(platform: Platform, record_id: str, system: str) -> Delivery:
    with platform.uow() as uow:
        delivery = uow.deliveries.get(record_id, system)
    if delivery is None:
        raise NotFound(f"no delivery of the record to {system}")
    return delivery


def _notice(platform: Platform, record: RecordToTell, system: str) -> ConsentNotice:
    if record.sealed_subject is None:
        raise RightsflowError(NOT_KEPT)
    try:
        value = platform.vault.open(record.record_id, record.sealed_subject).decode("utf-8")
    except RightsflowError:  # the record's key was destroyed with the subject
        raise RightsflowError(NOT_KEPT) from None
    return ConsentNotice(
        record_id=record.record_id,
        system=system,
        identities={record.subject_kind.value: value},
        purposes=dict(record.purposes),
        source=record.source,
        regime=record.regime,
        recorded_at=record.recorded_at,
    )


def _save(platform: Platform, delivery: Delivery, *, attempts: int, failure: str) -> None:
    failed = dataclasses.replace(
        delivery, attempts=attempts, failure=failure_text(failure), updated_at=platform.clock()
    )
    with platform.uow() as uow:
        uow.deliveries.save(failed)
        uow.commit()


def give_up(platform: Platform, record_id: str, system: str, why: str) -> str:
    """Mark the system failed after its retries, audit it and tell the operators, like a
    failing erasure system. Returns the reason; empty if it had taken the record after all."""
    delivery = _delivery(platform, record_id, system)
    if _taken(delivery):
        return ""
    reason = failure_text(f"{system}: consent not delivered: {why}")
    now = platform.clock()
    with platform.uow() as uow:
        uow.deliveries.save(
            dataclasses.replace(delivery, status=FAILED, failure=reason, updated_at=now)
        )
        audit.record(uow, record_id, "consent.delivery_failed", now, system=system, reason=reason)
        uow.commit()
    platform.notifier.send(
        platform.operators,
        f"Consent record {record_id}: {system} failed",
        f"{reason}.\nThe other systems were told. The system still applies the person's "
        "earlier choice until it is told; fix it and tell it again.\n",
    )
    consent_read.refresh(platform, delivery.subject_hash)
    return reason


def finish(platform: Platform, record_id: str) -> dict[str, int]:
    """Sign the record's receipt (every system and how it went), keep it with the deliveries,
    audit it; the number of deliveries per status."""
    record = _record(platform, record_id)
    with platform.uow() as uow:
        deliveries = uow.deliveries.for_record(record_id)
    signed = platform.signer.sign(receipt_body(platform, record, deliveries))
    counts = dict(Counter(d.status for d in deliveries))
    now = platform.clock()
    with platform.uow() as uow:
        uow.deliveries.set_receipt(record_id, signed)
        audit.record(uow, record_id, "consent.propagated", now, outcomes=counts)
        uow.commit()
    return counts


def receipt_body(
    platform: Platform, record: RecordToTell, deliveries: list[Delivery]
) -> dict[str, Any]:
    """What the receipt says: the record (ids, regime, source, what was withdrawn) and per
    system its status, attempts, reference and failure. No identity, not even hashed."""
    return {
        "format": RECEIPT_FORMAT,
        "issued_at": platform.clock().isoformat(),
        "record_id": record.record_id,
        "regime": record.regime,
        "source": record.source,
        "recorded_at": record.recorded_at.isoformat(),
        "withdrawn": sorted(record.withdrawn()),
        "systems": [
            {
                "system": d.system,
                "status": d.status,
                "attempts": d.attempts,
                "reference": d.reference,
                "failure": d.failure,
            }
            for d in deliveries
        ],
    }


def deliveries_of(platform: Platform, record_id: str) -> tuple[list[Delivery], Any]:
    """The record's deliveries and its signed receipt (None until propagation finished)."""
    _record(platform, record_id)  # NotFound for an unknown record
    with platform.uow() as uow:
        deliveries = uow.deliveries.for_record(record_id)
    receipt = next((d.receipt for d in deliveries if d.receipt), None)
    return deliveries, receipt
