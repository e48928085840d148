"""The Mutation root: submit a request, the operator's decisions, and recording consent. Each
calls the service its REST route calls (so the same checks, state changes and audit events
happen) and names that route's scope."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from rightsflow.api.choices import request_id_of
from rightsflow.api.graphql.auth import guarded_mutation
from rightsflow.api.graphql.queries import subject_of
from rightsflow.api.graphql.types_catalog import ConsentRecordedOut
from rightsflow.api.graphql.types_requests import RequestOut
from rightsflow.api.rest.consent import MAX_CHOICES, propagate_if_withdrawn
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import Choice, ConsentWrite, NoticeRef, Signals, Source
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import consent_batch, lifecycle, requests
from rightsflow.services.platform import Platform

Ctx = Info[Any, Any]
MAX_IDENTITIES = 20


@strawberry.input
class IdentityInput:
    type: str = strawberry.field(description="e.g. email, user_id, phone")
    value: str


@strawberry.input
class SubmitRequestInput:
    type: str = strawberry.field(description="access | erasure | rectification | ...")
    regime: str = strawberry.field(description="e.g. gdpr, ccpa")
    identities: list[IdentityInput]
    policy: str | None = None
    corrections: JSON | None = strawberry.field(
        default=None, description="Rectification only: dataset:collection.field -> new value"
    )
    identity_verified: bool = False
    idempotency_key: str | None = strawberry.field(
        default=None, description="Submitting again with the same key returns the first request"
    )


@strawberry.type
class Submitted:
    request: RequestOut
    created: bool = strawberry.field(description="False: a replay of an idempotency key")
    subject_token: str = strawberry.field(
        description="The subject's credential for their own request; give it only to them"
    )


@strawberry.input
class ChoiceInput:
    purpose: str
    granted: bool


@strawberry.input
class NoticeInput:
    key: str
    version: int


@strawberry.input
class RecordConsentInput:
    choices: list[ChoiceInput]
    source: str = strawberry.field(
        default="api", description="banner | preferences | api | gpc | agent | drp"
    )
    regime: str | None = None
    notice: NoticeInput | None = None
    gpc: bool = strawberry.field(default=False, description="The browser sent Sec-GPC: 1")


def _new_request(given: SubmitRequestInput) -> requests.NewRequest:
    if len(given.identities) > MAX_IDENTITIES:
        raise InvalidInput(f"at most {MAX_IDENTITIES} identities", field="identities")
    identities: dict[str, str] = {}
    for line, identity in enumerate(given.identities):
        if identity.type in identities:
            raise InvalidInput("an identity type is given twice", field=f"identities[{line}]")
        identities[identity.type] = identity.value
    if given.corrections is not None and not isinstance(given.corrections, dict):
        raise InvalidInput("corrections map field addresses to values", field="corrections")
    key = given.idempotency_key
    if key is not None and not 0 < len(key) <= 200:
        raise InvalidInput("an idempotency key is 1 to 200 characters", field="idempotencyKey")
    return requests.NewRequest(
        type=given.type,
        identities=identities,
        regime=given.regime,
        policy=given.policy,
        idempotency_key=key,
        corrections=given.corrections,
        verified=given.identity_verified,
    )


# As REST accepts: "link" is only written by linking subjects, never given.
_SOURCES = {s.value: s for s in Source if s is not Source.LINK}


def _source(raw: str) -> Source:
    if raw not in _SOURCES:
        raise InvalidInput(f"expected one of: {', '.join(_SOURCES)}", field="source")
    return _SOURCES[raw]


def _write(platform: Platform, subject: str, given: RecordConsentInput, actor: str) -> ConsentWrite:
    if len(given.choices) > MAX_CHOICES:
        raise InvalidInput(f"at most {MAX_CHOICES} choices", field="choices")
    notice = given.notice
    return ConsentWrite(
        subject=subject_of(subject),
        choices=tuple(Choice(c.purpose, c.granted) for c in given.choices),
        source=_source(given.source),
        regime=given.regime or platform.consent_regime,
        notice=None if notice is None else NoticeRef(notice.key, notice.version),
        signals=Signals(gpc=given.gpc),
        actor=actor,
    )


@strawberry.type
class Mutation:
    @guarded_mutation(
        Scope.REQUESTS_WRITE,
        "Submit a privacy request (as POST /api/v1/privacy-requests)",
    )
    async def submit_request(self, info: Ctx, input: SubmitRequestInput) -> Submitted | None:
        context = info.context
        platform = context.platform
        stored, created = await requests.submit_and_start(
            platform, context.deps.workflows, _new_request(input)
        )
        token = await asyncio.to_thread(lifecycle.subject_token, platform, stored.id)
        return Submitted(request=RequestOut.of(stored), created=created, subject_token=token)

    @guarded_mutation(Scope.REQUESTS_APPROVE, "Approve a request awaiting approval")
    async def approve_request(self, info: Ctx, id: strawberry.ID) -> RequestOut | None:
        context = info.context
        approved = await lifecycle.approve(
            context.platform, context.deps.workflows, request_id_of(id), context.actor
        )
        return RequestOut.of(approved)

    @guarded_mutation(Scope.REQUESTS_APPROVE, "Deny, with a reason code")
    async def deny_request(self, info: Ctx, id: strawberry.ID, reason: str) -> RequestOut | None:
        context = info.context
        denied = await lifecycle.deny(
            context.platform, context.deps.workflows, request_id_of(id), context.actor, reason
        )
        return RequestOut.of(denied)

    @guarded_mutation(
        Scope.REQUESTS_APPROVE,
        "Extend the deadline once (the subject is told the reason)",
    )
    async def extend_request(
        self,
        info: Ctx,
        id: strawberry.ID,
        reason: str,
        period: str | None = None,
    ) -> RequestOut | None:
        context = info.context
        extended = await lifecycle.extend(
            context.platform,
            context.deps.workflows,
            request_id_of(id),
            actor=context.actor,
            reason=reason,
            period=period,
        )
        return RequestOut.of(extended)

    @guarded_mutation(
        Scope.REQUESTS_APPROVE,
        "Mark the subject's identity verified by other means",
    )
    async def verify_request(self, info: Ctx, id: strawberry.ID) -> RequestOut | None:
        context = info.context
        verified = await lifecycle.verify_manually(
            context.platform, context.deps.workflows, request_id_of(id), context.actor
        )
        return RequestOut.of(verified)

    @guarded_mutation(
        Scope.CONSENT_WRITE,
        "Record a subject's choices (as POST /api/v1/consent/{subject})",
    )
    async def record_consent(
        self,
        info: Ctx,
        subject: str,
        input: RecordConsentInput,
    ) -> ConsentRecordedOut | None:
        context = info.context
        platform = context.platform
        write = _write(platform, subject, input, context.actor)
        window_ms = context.settings.consent_write_batch_ms
        outcome = await asyncio.to_thread(consent_batch.record, platform, write, window_ms)
        await propagate_if_withdrawn(platform, outcome)
        return ConsentRecordedOut.of(outcome)
