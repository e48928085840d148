"""/api/v1/consent: record choices (POST /{subject}), a subject's history, links.

`Sec-GPC: 1` on a write is the browser's Global Privacy Control signal: it is recorded with the
record and resolved per the regime (domain/consent_rules.py). When a write withdraws consent
the platform's propagator (if any) is started for the record once it is committed.

Subjects travel in paths; they are never logged (access logs are off) nor echoed in answers
or problems: answers name records and purposes only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.api.rest.consent_read import Subject
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import (
    MAX_SUBJECT_VALUE,
    REGIME_MODELS,
    Choice,
    ConsentRecordView,
    ConsentWrite,
    LedgerEntry,
    NoticeRef,
    Signals,
    Source,
    SubjectRef,
)
from rightsflow.services import consent, consent_batch, consent_requests
from rightsflow.services.platform import Platform

MAX_CHOICES = 100
MAX_SIGNAL = 10_000  # characters of a TCF or GPP string

router = APIRouter(
    prefix="/api/v1/consent",
    tags=["consent"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 422),
)

SecGpc = Annotated[
    str | None,
    Header(alias="Sec-GPC", max_length=8, description="1: the browser's GPC signal"),
]
# Documented as an enum so clients (and schemathesis) know the regimes; checked by the service.
Regime = Annotated[
    str | None, Field(max_length=16, json_schema_extra={"enum": [*sorted(REGIME_MODELS), None]})
]


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: str = Field(min_length=1, max_length=64)
    granted: StrictBool


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    choices: list[ChoiceIn] = Field(default_factory=list, max_length=MAX_CHOICES)
    source: Literal["banner", "preferences", "api", "gpc", "agent", "drp"] = "api"
    regime: Regime = Field(default=None, description="Default: the platform's consent regime")
    notice: NoticeIn | None = Field(default=None, description="The notice version shown")
    tcf: str | None = Field(default=None, max_length=MAX_SIGNAL, description="IAB TCF string")
    gpp: str | None = Field(default=None, max_length=MAX_SIGNAL, description="IAB GPP string")
    confirmed_over_gpc: StrictBool = Field(
        default=False,
        description="The person opted in after being told their browser sends GPC "
        "(11 CCR 7025(c)(3))",
    )


class EntryOut(BaseModel):
    id: int
    purpose: str
    granted: bool = Field(description="What was asked")
    effective: bool = Field(description="What the state became")
    source: str
    resolution: str | None = Field(description="The rule that decided a conflict, if any")

    @classmethod
    def of(cls, entry: LedgerEntry) -> EntryOut:
        return cls(
            id=entry.id,
            purpose=entry.purpose,
            granted=entry.granted,
            effective=entry.effective,
            source=entry.source.value,
            resolution=entry.resolution,
        )


class RecordedOut(BaseModel):
    id: str
    recorded_at: datetime
    entries: list[EntryOut]
    effective: dict[str, bool] = Field(description="The state of each purpose this write set")
    withdrawn: list[str] = Field(description="Purposes whose withdrawal is told to systems")

    @classmethod
    def of(cls, outcome: consent.RecordOutcome) -> RecordedOut:
        return cls(
            id=outcome.record_id,
            recorded_at=outcome.recorded_at,
            entries=[EntryOut.of(e) for e in outcome.entries],
            effective={e.purpose: e.effective for e in outcome.entries},
            withdrawn=list(outcome.withdrawn),
        )


class RecordOut(BaseModel):
    id: str
    recorded_at: datetime
    source: str
    regime: str
    notice: NoticeIn | None
    gpc: bool
    actor: str
    tcf: str | None
    tcf_valid: bool | None
    tcf_decoded: dict[str, Any] | None
    gpp: str | None
    gpp_valid: bool | None
    gpp_decoded: dict[str, Any] | None
    request_id: str | None
    linked: bool = Field(description="Choices carried over from a device or email")
    entries: list[EntryOut]

    @classmethod
    def of(cls, record: ConsentRecordView, entries: list[LedgerEntry]) -> RecordOut:
        notice = record.notice
        return cls(
            id=record.id,
            recorded_at=record.recorded_at,
            source=record.source.value,
            regime=record.regime,
            notice=None if notice is None else NoticeIn(key=notice.key, version=notice.version),
            gpc=record.gpc,
            actor=record.actor,
            tcf=record.tcf,
            tcf_valid=record.tcf_valid,
            tcf_decoded=None if record.tcf_decoded is None else dict(record.tcf_decoded),
            gpp=record.gpp,
            gpp_valid=record.gpp_valid,
            gpp_decoded=None if record.gpp_decoded is None else dict(record.gpp_decoded),
            request_id=record.request_id,
            linked=record.linked_from is not None,
            entries=[EntryOut.of(e) for e in entries],
        )


class HistoryOut(BaseModel):
    items: list[RecordOut]
    next_after: str | None = Field(description="Pass as `after` for the next page")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: str = Field(alias="from", min_length=1, max_length=MAX_SUBJECT_VALUE + 16)
    to: str = Field(min_length=1, max_length=MAX_SUBJECT_VALUE + 16)
    regime: Regime = None


def gpc_header(value: str | None) -> bool:
    """`Sec-GPC: 1` is the only value the specification defines; anything else is no signal."""
    return value is not None and value.strip() == "1"


async def propagate_if_withdrawn(platform: Platform, outcome: consent.RecordOutcome) -> None:
    if outcome.withdrawn and platform.consent_propagator is not None:
        await platform.consent_propagator.propagate(outcome.record_id)


async def honour_gpc_on_intake(platform: Platform, request_id: str) -> bool:
    """Global Privacy Control sent with a new privacy request: recorded in the consent ledger
    (services/consent_requests.py) and told to systems; False when it did not apply."""
    honoured = await run_in_threadpool(consent_requests.record_gpc_signal, platform, request_id)
    if honoured is None:
        return False
    await propagate_if_withdrawn(platform, honoured)
    return True


@router.post(
    "/links",
    status_code=201,
    summary="Carry a device's or email's choices to a user who signed in",
    responses=problem_responses(409),
)
@requires(Scope.CONSENT_WRITE)
async def link_subjects(
    platform: PlatformDep, actor: ActorDep, body: Annotated[LinkIn, Body()]
) -> RecordedOut:
    source = SubjectRef.parse(body.from_)
    regime = body.regime or platform.consent_regime
    outcome = await run_in_threadpool(consent.link, platform, source, body.to, regime, actor)
    await propagate_if_withdrawn(platform, outcome)
    return RecordedOut.of(outcome)


@router.post(
    "/{subject}",
    status_code=201,
    summary="Record a subject's choices (and a GPC signal)",
    responses=problem_responses(409),
)
@requires(Scope.CONSENT_WRITE)
async def record_consent(
    subject: Subject,
    platform: PlatformDep,
    actor: ActorDep,
    body: Annotated[ConsentIn, Body()],
    *,
    request: Request,
    sec_gpc: SecGpc = None,
) -> RecordedOut:
    notice = body.notice
    write = ConsentWrite(
        subject=SubjectRef.parse(subject),
        choices=tuple(Choice(c.purpose, c.granted) for c in body.choices),
        source=Source(body.source),
        regime=body.regime or platform.consent_regime,
        notice=None if notice is None else NoticeRef(notice.key, notice.version),
        signals=Signals(gpc=gpc_header(sec_gpc), tcf=body.tcf, gpp=body.gpp),
        confirmed_over_gpc=body.confirmed_over_gpc,
        actor=actor,
    )
    # Batched with concurrent writes when consent_write_batch_ms > 0 (services/consent_batch).
    window_ms = request.app.state.settings.consent_write_batch_ms
    outcome = await run_in_threadpool(consent_batch.record, platform, write, window_ms)
    await propagate_if_withdrawn(platform, outcome)
    return RecordedOut.of(outcome)


@router.get("/{subject}/history", summary="A subject's consent records, oldest first")
@requires(Scope.CONSENT_READ)
async def consent_history(
    subject: Subject,
    platform: PlatformDep,
    after: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryOut:
    ref = SubjectRef.parse(subject)
    cursor = None if after is None else int(after)
    page = await run_in_threadpool(consent.history, platform, ref, cursor, limit)
    return HistoryOut(
        items=[RecordOut.of(r, list(e)) for r, e in page.items],
        next_after=None if page.next_after is None else str(page.next_after),
    )
