"""The privacy center's preferences page: the visitor's consent choices per purpose.

The subject is this browser (`device_id:<random>`, kept in the HttpOnly `rf_device` cookie made
on the first visit). Reading is services.consent_read.current; saving is the same write as REST
POST /api/v1/consent/{subject} (services.consent_batch.record, then propagation of withdrawals).
A `Sec-GPC: 1` header is that write's GPC signal, and what it does is decided by the consent
rules (domain/consent_rules.py), not here. A GPC visitor's first visit records the signal at
once, so the page shows its effect (sale and sharing off) before they choose anything."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from rightsflow.api.rest.consent import gpc_header, propagate_if_withdrawn
from rightsflow.api.web.center_pages import (
    CENTER,
    FieldError,
    device_of,
    keep_device,
    page,
    platform_of,
    see_other,
)
from rightsflow.api.web.center_text import DONE_TEXT, msg
from rightsflow.domain.consent import (
    Choice,
    ConsentWrite,
    Purpose,
    Signals,
    Source,
    SubjectKind,
    SubjectRef,
)
from rightsflow.domain.consent_catalog import STANDARD_PURPOSES
from rightsflow.domain.consent_rules import GPC_OVERRIDES_CHOICE, GPC_OVERRIDES_SAVED
from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.services import consent_batch, consent_catalog, consent_read
from rightsflow.services.platform import Platform

router = APIRouter()
PATH = f"{CENTER}/preferences"
ACTOR = "privacy_center"
# The standard purposes' texts are translated (es.json); a deployment's own show as written.
PURPOSE_TEXTS = tuple(t for p in STANDARD_PURPOSES for t in (p.name, p.description) if t)
SOURCE_TEXT = {
    None: msg("default"),
    "preferences": msg("your choice"),
    "banner": msg("your choice on our banner"),
    "gpc": msg("your browser's Global Privacy Control signal"),
    "api": msg("recorded by our service"),
    "agent": msg("your authorized agent"),
    "drp": msg("your opt-out request"),
    "link": msg("carried over from another device"),
}
_OVERRIDDEN = frozenset({GPC_OVERRIDES_CHOICE, GPC_OVERRIDES_SAVED})


@dataclass(frozen=True)
class Row:
    purpose: Purpose
    on: bool
    source: str
    overridden: bool  # a choice to allow was turned off by the GPC signal

    @property
    def field(self) -> str:
        return f"purpose-{self.purpose.key}"


def _subject(device: str) -> SubjectRef:
    return SubjectRef(SubjectKind.DEVICE_ID, device)


def _state(platform: Platform, device: str) -> dict[str, Any]:
    digest = consent_read.subject_hash(platform, _subject(device))
    loaded: dict[str, Any] = json.loads(
        consent_read.current(platform, digest, platform.consent_regime)
    )
    return loaded


def _purposes(platform: Platform) -> list[Purpose]:
    shown = [p for p in consent_catalog.list_purposes(platform) if not p.retired]
    return sorted(shown, key=lambda p: not p.essential)  # what is always on, first


def _rows(purposes: list[Purpose], state: dict[str, Any]) -> list[Row]:
    rows = []
    for purpose in purposes:
        held = state["purposes"].get(purpose.key) or {}
        rows.append(
            Row(
                purpose,
                on=bool(held.get("granted", purpose.essential)),
                source=SOURCE_TEXT.get(held.get("source"), SOURCE_TEXT["api"]),
                overridden=held.get("resolution") in _OVERRIDDEN,
            )
        )
    return rows


def _signal_is_news(purposes: list[Purpose], state: dict[str, Any]) -> bool:
    """Whether a GPC signal might change something: never seen on this device, or a purpose
    it covers is on since it was last seen (the rules then decide what it does)."""
    seen = state.get("gpc")
    if not seen:
        return True
    for purpose in purposes:
        held = state["purposes"].get(purpose.key) or {}
        changed = held.get("updated_at")
        if purpose.gpc and held.get("granted") and changed and _at(changed) > _at(seen["at"]):
            return True
    return False


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _record(request: Request, device: str, choices: tuple[Choice, ...], gpc: bool) -> None:
    platform = platform_of(request)
    write = ConsentWrite(
        subject=_subject(device),
        choices=choices,
        source=Source.PREFERENCES,
        regime=platform.consent_regime,
        signals=Signals(gpc=gpc),
        actor=ACTOR,
    )
    window_ms = request.app.state.settings.consent_write_batch_ms
    outcome = await run_in_threadpool(consent_batch.record, platform, write, window_ms)
    await propagate_if_withdrawn(platform, outcome)


def _page(
    request: Request,
    rows: list[Row],
    gpc: bool,
    errors: list[FieldError],
    status_code: int = 200,
) -> Response:
    gpc_rows = [r for r in rows if r.purpose.gpc and not r.purpose.essential]
    return page(
        request,
        "preferences.html",
        {
            "rows": rows,
            "gpc": gpc,
            "gpc_all_off": gpc and not any(r.on for r in gpc_rows),
            "done": DONE_TEXT.get(request.query_params.get("done", "")),
            "errors": errors,
        },
        status_code=status_code,
    )


@router.get("/preferences")
async def preferences(request: Request) -> Response:
    platform = platform_of(request)
    device, new = device_of(request)
    gpc = gpc_header(request.headers.get("sec-gpc"))
    purposes = await run_in_threadpool(_purposes, platform)
    state = await run_in_threadpool(_state, platform, device)
    if gpc and _signal_is_news(purposes, state):
        try:
            await _record(request, device, (), gpc=True)
        except Conflict:
            pass  # an erasure of this device is in progress: nothing may be recorded now
        else:
            state = await run_in_threadpool(_state, platform, device)
    response = _page(request, _rows(purposes, state), gpc, [])
    if new:
        keep_device(request, response, device)
    return response


def _choices(purposes: list[Purpose], form: dict[str, str]) -> tuple[Choice, ...]:
    """A choice per shown purpose the form answered (`on` / `off`); essential ones are not
    choices. Anything else is left as it was."""
    chosen = []
    for purpose in purposes:
        answer = form.get(f"purpose-{purpose.key}")
        if not purpose.essential and answer in ("on", "off"):
            chosen.append(Choice(purpose.key, answer == "on"))
    return tuple(chosen)


@router.post("/preferences")
async def save(request: Request) -> Response:
    device, new = device_of(request)
    if new:  # no device cookie (first visit, or a post from elsewhere): show the page first
        return see_other(PATH)
    platform = platform_of(request)
    gpc = gpc_header(request.headers.get("sec-gpc"))
    raw = await request.form()
    purposes = await run_in_threadpool(_purposes, platform)
    choices = _choices(purposes, {k: v for k, v in raw.items() if isinstance(v, str)})
    try:
        await _record(request, device, choices, gpc=gpc)
    except InvalidInput:
        state = await run_in_threadpool(_state, platform, device)
        error = FieldError("preferences", msg("Some of the values sent were not valid."))
        return _page(request, _rows(purposes, state), gpc, [error], 422)
    return see_other(f"{PATH}?done=saved")
