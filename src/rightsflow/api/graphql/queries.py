"""The Query root: requests (one, or a page), the data map's systems, consent state and the
purpose catalogue. Each field names the scope of the REST route that reads the same thing, and
calls the same service function."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
from strawberry.types import Info

from rightsflow.api.choices import request_filter, request_id_of
from rightsflow.api.graphql.auth import guarded
from rightsflow.api.graphql.limits import DEFAULT_PAGE, MAX_PAGE
from rightsflow.api.graphql.types_catalog import ConsentStateOut, PurposeOut, SystemOut
from rightsflow.api.graphql.types_requests import (
    PageInfoOut,
    RequestConnectionOut,
    RequestEdgeOut,
    RequestOut,
)
from rightsflow.api.rest.paging import decode_cursor, encode_cursor
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import MAX_SUBJECT_VALUE, SubjectRef
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import consent_catalog, consent_read, requests

Ctx = Info[Any, Any]


def subject_of(text: str) -> SubjectRef:
    if not 0 < len(text) <= MAX_SUBJECT_VALUE + 16:
        raise InvalidInput("a subject is 1 to 16 + the longest value characters", "subject")
    return SubjectRef.parse(text)


@strawberry.type
class Query:
    @guarded(Scope.REQUESTS_READ, "One request")
    async def request(self, info: Ctx, id: strawberry.ID) -> RequestOut | None:
        found = await asyncio.to_thread(requests.get, info.context.platform, request_id_of(id))
        return RequestOut.of(found)

    @guarded(Scope.REQUESTS_READ, "Requests, newest first")
    async def requests(
        self,
        info: Ctx,
        *,
        status: str | None = None,
        type: str | None = None,
        regime: str | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> RequestConnectionOut | None:
        if not 1 <= first <= MAX_PAGE:
            raise InvalidInput(f"first must be 1 to {MAX_PAGE}", field="first")
        filters = request_filter(status, type, regime)
        cursor = decode_cursor(after) if after is not None else None
        found = await asyncio.to_thread(
            requests.list_requests, info.context.platform, filters, cursor, first + 1
        )
        page = list(found)[:first]
        nodes = [RequestOut.of(r) for r in page]
        cursors = [encode_cursor(r) for r in page]
        return RequestConnectionOut(
            nodes=nodes,
            edges=[RequestEdgeOut(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
            page_info=PageInfoOut(
                has_next_page=len(found) > first, end_cursor=cursors[-1] if cursors else None
            ),
        )

    @guarded(
        Scope.DATAMAP_READ,
        "The data map's systems with their datasets and collections",
    )
    def systems(self, info: Ctx) -> list[SystemOut] | None:
        platform, registry = info.context.platform, info.context.deps.registry
        return [SystemOut.of(s, platform.datamap, registry) for s in platform.datamap.systems]

    @guarded(
        Scope.CONSENT_READ,
        'A subject\'s current consent ("user_id:<id>", "device_id:<id>", "email:<address>")',
    )
    async def consent(
        self, info: Ctx, subject: str, regime: str | None = None
    ) -> ConsentStateOut | None:
        platform = info.context.platform
        regime = regime or platform.consent_regime
        digest = consent_read.subject_hash(platform, subject_of(subject))
        return ConsentStateOut.of(await consent_read.current_async(platform, digest, regime))

    @guarded(Scope.CONSENT_READ, "The purposes people are asked about")
    async def purposes(self, info: Ctx, include_retired: bool = False) -> list[PurposeOut] | None:
        found = await asyncio.to_thread(
            consent_catalog.list_purposes, info.context.platform, include_retired
        )
        return [PurposeOut.of(p) for p in found]
