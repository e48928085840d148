"""Recording consent: choices, GPC signals and links, written to the append-only ledger.

A write hashes the subject (identity_lookup.identity_hash, the hashes privacy requests are
found by), refuses a subject with an erasure in progress, validates purposes and the notice
version against the catalogue, resolves conflicts (domain/consent_rules.py) against the stored
state under a per-subject lock, appends one record with its entries, commits, and then puts the
subject's fresh state in the read cache (consent_read.refresh: read-your-writes).

The caller (API route, CLI, request workflow) starts propagation afterwards when the outcome
has `withdrawn` purposes and the platform has a propagator: the record then also holds the
subject's value sealed under the record's own key, since systems know people by their id.

Choices are not put in the audit chain one by one: the ledger is their append-only record,
and the chain's lock would cap writes per second. Catalogue and other admin changes are
audited where they are made.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rightsflow.domain.consent import (
    Choice,
    ConsentRecordView,
    ConsentWrite,
    LedgerEntry,
    NoticeRef,
    Purpose,
    PurposeState,
    Source,
    SubjectKind,
    SubjectRef,
    consent_model,
)
from rightsflow.domain.consent_rules import (
    Outcome,
    gpc_asserted,
    link_outcomes,
    resolve,
    validate_choices,
    withdrawn,
)
from rightsflow.domain.consent_signals import Decoded, decode_gpp, decode_tcf
from rightsflow.domain.consent_state import micros
from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.services import consent_catalog, consent_read, experiments
from rightsflow.services.consent_read import CATALOGUE_TTL, subject_hash
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

_TICK = timedelta(microseconds=1)
UNDER_ERASURE = (
    "the subject has an erasure request in progress: consent cannot be recorded until it ends"
)


@dataclass(frozen=True)
class RecordOutcome:
    record_id: str
    subject_hash: str
    recorded_at: datetime
    entries: tuple[LedgerEntry, ...]
    withdrawn: tuple[str, ...]  # purposes to tell the systems about (see consent_rules)


@dataclass(frozen=True)
class HistoryPage:
    items: Sequence[tuple[ConsentRecordView, Sequence[LedgerEntry]]]
    next_after: int | None


def record(platform: Platform, write: ConsentWrite, record_id: str | None = None) -> RecordOutcome:
    """Append one record (under `record_id` when the caller needs to know it beforehand, e.g.
    to be idempotent when retried)."""
    consent_model(write.regime)  # InvalidInput naming the regime before any work
    digest = subject_hash(platform, write.subject)
    decoded = decode_signals(write)
    with platform.uow() as uow:
        refuse_under_erasure(uow, write.subject.kind, digest)
        purposes = catalogue(platform, uow, write.choices)
        check_write(uow, write, purposes)
        made = draft(
            platform,
            write,
            purposes,
            digest=digest,
            record_id=record_id,
            decoded=decoded,
            state=uow.consent.lock_state(digest),
        )
        outcome = _append(uow, made)
        observe(uow, write, made.view)
        uow.commit()
    consent_read.refresh(platform, digest)
    return outcome


def link(
    platform: Platform, from_subject: SubjectRef, user_id: str, regime: str, actor: str = ""
) -> RecordOutcome:
    """Carry a device's (or email's) saved choices to a user who signed in (consent_rules:
    linking). One record for the user (source link, linked_from the device hash), even when
    nothing had to be carried, and one `consent_links` row."""
    consent_model(regime)
    to = SubjectRef.parse(user_id, SubjectKind.USER_ID)
    if to.kind is not SubjectKind.USER_ID or from_subject.kind is SubjectKind.USER_ID:
        raise InvalidInput("a link goes from a device_id or an email to a user_id", field="to")
    from_hash, to_hash = subject_hash(platform, from_subject), subject_hash(platform, to)
    with platform.uow() as uow:
        refuse_under_erasure(uow, from_subject.kind, from_hash)
        refuse_under_erasure(uow, to.kind, to_hash)
        purposes = catalogue(platform, uow)
        user, last_at = uow.consent.lock_state(to_hash)
        outcomes = link_outcomes(uow.consent.state(from_hash), user, purposes)
        view = ConsentRecordView(
            id=str(uuid.uuid4()),
            subject_hash=to_hash,
            subject_kind=SubjectKind.USER_ID,
            source=Source.LINK,
            regime=regime,
            recorded_at=next_time(platform.clock(), last_at),
            notice=None,
            gpc=False,
            actor=actor,
            linked_from=from_hash,
        )
        made = drafted(
            platform, view, outcomes, withdrawn(outcomes, user, purposes, regime), to.value
        )
        outcome = _append(uow, made)
        uow.consent.add_link(from_hash, to_hash, view.id, view.recorded_at)
        uow.commit()
    consent_read.refresh(platform, to_hash)
    return outcome


def history(platform: Platform, subject: SubjectRef, after: int | None, limit: int) -> HistoryPage:
    """The subject's records, oldest first, with their entries; `next_after` continues."""
    digest = subject_hash(platform, subject)
    with platform.uow() as uow:
        items = list(uow.consent.history(digest, after, limit + 1))
    page = items[:limit]
    next_after = micros(page[-1][0].recorded_at) if len(items) > limit else None
    return HistoryPage(page, next_after)


def refuse_under_erasure(uow: UnitOfWork, kind: SubjectKind, digest: str) -> None:
    """Conflict (no identity in it) when an erasure request for the subject is not finished:
    recording new choices would bring back data that is being erased."""
    if uow.consent.under_erasure(kind.value, digest):
        raise Conflict(UNDER_ERASURE)


def new_view(
    write: ConsentWrite,
    digest: str,
    record_id: str,
    recorded_at: datetime,
    decoded: tuple[Decoded | None, Decoded | None],
) -> ConsentRecordView:
    """The record a write appends (`decoded`: its TCF and GPP strings, see `decode_signals`)."""
    tcf, gpp = decoded
    return ConsentRecordView(
        id=record_id,
        subject_hash=digest,
        subject_kind=write.subject.kind,
        source=write.source,
        regime=write.regime,
        recorded_at=recorded_at,
        notice=write.notice,
        gpc=gpc_asserted(write),
        actor=write.actor,
        tcf=write.signals.tcf,
        tcf_decoded=None if tcf is None else _fields(tcf),
        tcf_valid=None if tcf is None else tcf.valid,
        gpp=write.signals.gpp,
        gpp_decoded=None if gpp is None else _fields(gpp),
        gpp_valid=None if gpp is None else gpp.valid,
        request_id=write.request_id,
    )


def decode_signals(write: ConsentWrite) -> tuple[Decoded | None, Decoded | None]:
    return _decoded(decode_tcf, write.signals.tcf), _decoded(decode_gpp, write.signals.gpp)


def ledger_entries(view: ConsentRecordView, outcomes: Sequence[Outcome]) -> list[LedgerEntry]:
    """The entries of a record (ids 0 until stored)."""
    return [
        LedgerEntry(
            id=0,
            record_id=view.id,
            subject_hash=view.subject_hash,
            purpose=o.purpose,
            granted=o.granted,
            effective=o.effective,
            source=o.source,
            recorded_at=view.recorded_at,
            notice=view.notice,
            resolution=o.resolution,
        )
        for o in outcomes
    ]


def seal_if_told(
    platform: Platform, view: ConsentRecordView, gone: Sequence[str], value: str
) -> bytes | None:
    """The subject's value sealed under the record's key, only when systems will be told:
    propagation needs the id they know the person by (a data key per record, so it costs a key
    write; without a propagator nothing is told)."""
    told = gone and platform.consent_propagator is not None
    return platform.vault.seal(view.id, value.encode()) if told else None


@dataclass(frozen=True)
class Draft:
    """A record ready to append: its entries (ids 0 until stored), the subject's value sealed
    when systems will be told, and the purposes to tell them about."""

    view: ConsentRecordView
    outcomes: Sequence[Outcome]
    entries: Sequence[LedgerEntry]
    sealed: bytes | None
    gone: Sequence[str]

    def outcome(self, ids: Sequence[int]) -> RecordOutcome:
        """The outcome once stored, `ids` being the entries' ids."""
        stored = tuple(_with_id(e, i) for e, i in zip(self.entries, ids, strict=True))
        view = self.view
        return RecordOutcome(view.id, view.subject_hash, view.recorded_at, stored, tuple(self.gone))


def drafted(
    platform: Platform,
    view: ConsentRecordView,
    outcomes: Sequence[Outcome],
    gone: Sequence[str],
    subject_value: str,
) -> Draft:
    sealed = seal_if_told(platform, view, gone, subject_value)
    return Draft(view, outcomes, ledger_entries(view, outcomes), sealed, gone)


def check_write(uow: UnitOfWork, write: ConsentWrite, purposes: Mapping[str, Purpose]) -> None:
    """A write's checks after the erasure one: its choices, then its notice."""
    validate_choices(write.choices, purposes)  # before the notice check names a purpose
    if write.notice is not None:
        check_notice(uow, write.notice, write.choices)


def draft(
    platform: Platform,
    write: ConsentWrite,
    purposes: Mapping[str, Purpose],
    *,
    digest: str,
    decoded: tuple[Decoded | None, Decoded | None],
    state: tuple[Mapping[str, PurposeState], datetime | None],
    record_id: str | None = None,
) -> Draft:
    """A checked write resolved against its subject's state (saved purposes, time of its
    latest record), as record `record_id` (default: a new id)."""
    saved, last_at = state
    outcomes = resolve(write, purposes, saved)
    gone = withdrawn(outcomes, saved, purposes, write.regime)
    at = next_time(platform.clock(), last_at)
    view = new_view(write, digest, record_id or str(uuid.uuid4()), at, decoded)
    return drafted(platform, view, outcomes, gone, write.subject.value)


def observe(uow: UnitOfWork, write: ConsentWrite, view: ConsentRecordView) -> None:
    """A choice on a notice variant under test is the experiment's outcome (same transaction)."""
    experiments.observe_choice(
        uow, view.subject_hash, write.notice, write.choices, view.recorded_at
    )


def _append(uow: UnitOfWork, made: Draft) -> RecordOutcome:
    return made.outcome(uow.consent.append(made.view, made.entries, made.sealed))


def _with_id(entry: LedgerEntry, entry_id: int) -> LedgerEntry:
    return dataclasses.replace(entry, id=entry_id)


class _Catalogues:
    """The purpose catalogue per Platform, kept CATALOGUE_TTL seconds: one read less per write.
    A choice naming a purpose the kept copy lacks reloads it at once (a purpose just created
    is usable at once); a purpose retired meanwhile is refused at most CATALOGUE_TTL later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, tuple[float, Mapping[str, Purpose]]] = {}

    def get(
        self, platform: Platform, uow: UnitOfWork, wanted: Iterable[str]
    ) -> Mapping[str, Purpose]:
        held = self._held.get(id(platform))
        if held is not None and held[0] > time.monotonic() and all(k in held[1] for k in wanted):
            return held[1]
        purposes = {p.key: p for p in uow.consent_catalog.purposes(include_retired=True)}
        with self._lock:
            if id(platform) not in self._held:
                weakref.finalize(platform, self._held.pop, id(platform), None)
            self._held[id(platform)] = (time.monotonic() + CATALOGUE_TTL, purposes)
        return purposes


_catalogues = _Catalogues()


def catalogue(
    platform: Platform, uow: UnitOfWork, choices: Sequence[Choice] = ()
) -> Mapping[str, Purpose]:
    return _catalogues.get(platform, uow, (c.purpose for c in choices))


def check_notice(uow: UnitOfWork, ref: NoticeRef, choices: Sequence[Choice]) -> None:
    """The notice version exists, and the choices are about purposes it presents."""
    notice = consent_catalog.require_notice(uow, ref, field="notice")
    for index, choice in enumerate(choices):
        if choice.purpose not in notice.purposes:
            raise InvalidInput(
                f"purpose {choice.purpose} is not on notice {notice.key} v{notice.version}",
                field=f"choices.{index}.purpose",
            )


def next_time(now: datetime, last_at: datetime | None) -> datetime:
    """Each record of a subject is later than the one before (the read cache's version and
    the history cursor are its time): a clock step back or two writes in one microsecond
    would otherwise tie or go back."""
    return now if last_at is None or now > last_at else last_at + _TICK


def _decoded(decode: Callable[[str], Decoded], text: str | None) -> Decoded | None:
    """Decoding never fails a write: a string that cannot be decoded is stored as received."""
    if text is None:
        return None
    try:
        return decode(text)
    except Exception:
        return Decoded(valid=False, problem="the string could not be decoded")


def _fields(decoded: Decoded) -> dict[str, object]:
    fields = dict(decoded.fields)
    if decoded.problem is not None:
        fields["problem"] = decoded.problem
    return fields
