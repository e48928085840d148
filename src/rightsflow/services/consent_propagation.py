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
A system whose connector cannot be opened (a missing secret, a bad config) and whose kind may
have the capability is recorded `failed` with the reason; the others are still told. An
operator can `retry` failed deliveries: they go back to pending and a new run tells only them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from rightsflow.domain.connector import ConsentNotice, ConsentReceiver
from rightsflow.domain.consent_delivery import (
    CONFIRMED,
    FAILED,
    PENDING,
    Delivery,
    RecordToTell,
    failure_text,
)
from rightsflow.domain.errors import (
    Conflict,
    ConnectorFailure,
    InvalidInput,
    NotFound,
    RightsflowError,
)
from rightsflow.services import audit, consent_read
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

RECEIPT_FORMAT = "rightsflow.consent-propagation/1"
NOT_KEPT = "the subject's identity was not kept with the record (or was erased): cannot tell"
CONSENT = "consent"
RETRIED = "consent.delivery_retried"


@runtime_checkable
class _DeclaresCapabilities(Protocol):
    """Connectors that can tell a system's capabilities from its kind's spec without opening
    it (connectors/pool.py)."""

    def declares(self, system_key: str, capability: str) -> bool | None: ...


def receiver(platform: Platform, system: str) -> ConsentReceiver | None:
    """The system's connector if it has the consent capability."""
    connectors = platform.connectors
    if connectors.answers_itself(system):
        connector: object = connectors.system_connector(system)
    else:
        connector = connectors.for_system(system)
    return connector if isinstance(connector, ConsentReceiver) else None


def _may_consent(platform: Platform, system: str) -> bool:
    """Whether the system's kind may have the consent capability, without opening it (True
    when the spec cannot be checked: better a failed delivery an operator sees than silence)."""
    connectors = platform.connectors
    if isinstance(connectors, _DeclaresCapabilities):
        try:
            declared = connectors.declares(system, CONSENT)
        except Exception:  # (a plugin's spec that fails to import: unknown)
            declared = None
        return declared is not False
    return True


def _unopened(system: str, exc: Exception) -> str:
    """Why a connector could not be opened: a domain error's message (they carry no secrets
    or personal data by rule), otherwise only the error's type (a plugin's may carry anything)."""
    why = str(exc) if isinstance(exc, RightsflowError) else type(exc).__name__
    return failure_text(f"{system}: consent not delivered: connector could not be opened: {why}")


def choose(platform: Platform, record: RecordToTell) -> tuple[list[str], dict[str, str]]:
    """The data map's systems that want to be told about this record, sorted, and those that
    may but whose connector cannot be opened, with the reason."""
    withdrawn = record.withdrawn()
    if not withdrawn:
        return [], {}
    chosen: list[str] = []
    broken: dict[str, str] = {}
    for system in platform.datamap.systems:
        try:
            found = receiver(platform, system.key)
        except Exception as exc:  # (one system's broken connector is its own failure)
            if _may_consent(platform, system.key):
                broken[system.key] = _unopened(system.key, exc)
            continue
        if found is not None and found.wants_consent(record.subject_kind.value, withdrawn):
            chosen.append(system.key)
    return sorted(chosen), broken


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
    systems, broken = choose(platform, record)
    now = platform.clock()
    with platform.uow() as uow:
        everyone = sorted([*systems, *broken])
        uow.deliveries.open(record_id, record.subject_hash, everyone, now)
        audit.record(uow, record_id, "consent.propagation_started", now, systems=everyone)
        for system, reason in sorted(broken.items()):
            _fail(uow, record, system, reason, now)
        uow.commit()
    for system, reason in sorted(broken.items()):
        _tell_operators(platform, record_id, system, reason)
    if everyone:
        consent_read.refresh(platform, record.subject_hash)
    return systems


def _fail(uow: UnitOfWork, record: RecordToTell, system: str, reason: str, now: datetime) -> None:
    """A delivery that could not even be tried: failed, with its reason, audited."""
    rid = record.record_id
    uow.deliveries.save(Delivery(rid, system, record.subject_hash, FAILED, 0, now, failure=reason))
    audit.record(uow, rid, "consent.delivery_failed", now, system=system, reason=reason)


def tell(platform: Platform, record_id: str, system: str) -> str:
    """Tell one system about the record; its delivery's status afterwards. A system that has
    already taken the record (confirmed, or accepted to apply later) is not told again. A
    failure is counted and raised: the workflow retries it."""
    record = _record(platform, record_id)
    delivery = _delivery(platform, record_id, system)
    if _taken(delivery) or delivery.status == FAILED:
        return delivery.status
    try:
        found = receiver(platform, system)
    except Exception as exc:  # (still broken when told again: counted, given up on)
        reason = _unopened(system, exc)
        _save(platform, delivery, attempts=delivery.attempts + 1, failure=reason)
        raise ConnectorFailure(reason, retryable=False) from None
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
    _tell_operators(platform, record_id, system, reason)
    consent_read.refresh(platform, delivery.subject_hash)
    return reason


def _tell_operators(platform: Platform, record_id: str, system: str, reason: str) -> None:
    platform.notifier.send(
        platform.operators,
        f"Consent record {record_id}: {system} failed",
        f"{reason}.\nThe other systems were told. The system still applies the person's "
        "earlier choice until it is told; fix it and tell it again (POST "
        f"/api/v1/consent/records/{record_id}/deliveries/retry).\n",
    )


def retry(
    platform: Platform, record_id: str, systems: Sequence[str] | None, actor: str
) -> tuple[list[str], int]:
    """Put the record's failed deliveries (or those of `systems`) back to pending, audited;
    the systems to tell again and the retry's run number (1, 2, ...). NotFound for an unknown
    record, InvalidInput for a system not told about it, Conflict when none of them failed.
    Confirmed systems are never reset, so never told twice."""
    record = _record(platform, record_id)
    now = platform.clock()
    with platform.uow() as uow:
        known = {d.system: d for d in uow.deliveries.for_record(record_id)}
        for index, system in enumerate(systems or ()):
            if system not in known:
                raise InvalidInput(f"systems[{index}]: not a system told about this record")
        wanted = sorted(set(systems) if systems else known)
        reset = uow.deliveries.reset(
            record_id, [s for s in wanted if known[s].status == FAILED], now
        )
        if not reset:
            raise Conflict("no failed delivery of this record to tell again")
        run = 1 + sum(1 for e in uow.audit.for_request(record_id) if e.action == RETRIED)
        audit.record(uow, record_id, RETRIED, now, actor=actor, systems=reset, run=run)
        uow.commit()
    consent_read.refresh(platform, record.subject_hash)
    return reset, run


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
