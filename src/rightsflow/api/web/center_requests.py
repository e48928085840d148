"""The privacy center's start page: choose a right, give an email address, send.

A submission goes through the same use case as POST /api/v1/privacy-requests (services.requests
.submit_and_start, and a Sec-GPC signal recorded as the REST route does); the subject token it
yields is kept in a cookie scoped to the request's pages, never shown or put in a URL.
Errors come back as the form with messages next to the fields, never echoing what was typed
in a message (a mistyped address is still someone's address)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from rightsflow.api.deps import api_deps
from rightsflow.api.rest.consent import gpc_header, honour_gpc_on_intake
from rightsflow.api.web.center_pages import (
    FieldError,
    errors_by_field,
    keep_subject_token,
    page,
    platform_of,
    request_path,
    see_other,
)
from rightsflow.api.web.center_text import TYPE_TEXT, msg
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.regimes import REGIMES
from rightsflow.domain.requests import RequestType
from rightsflow.services import lifecycle, requests
from rightsflow.services.platform import Platform

router = APIRouter()

# The rights the center offers, in the order shown.
RIGHTS = (RequestType.ACCESS, RequestType.ERASURE, RequestType.RECTIFICATION, RequestType.OPT_OUT)
MAX_EMAIL = 320
MAX_VALUE = 1000


@dataclass(frozen=True)
class Form:
    right: str = ""
    regime: str = ""
    correction_field: str = ""
    # The email and new value are not kept for re-display after an error: they are personal
    # data, and typing them again is a small price for never echoing them.


def rectifiable_fields(platform: Platform) -> list[tuple[str, str]]:
    """(address, label) of the text fields a person may ask to correct: leaves, not keys."""
    found: list[tuple[str, str]] = []
    for collection in platform.datamap.collections():
        for field in collection.fields:
            if field.has_children or "." in field.path or field.path in collection.primary_key:
                continue
            if field.data_type == "string":
                label = f"{collection.name}: {field.path.replace('_', ' ')}"
                found.append((f"{collection.address}.{field.path}", label))
    return found


def _default_regime(platform: Platform) -> str:
    return platform.consent_regime if platform.consent_regime in REGIMES else sorted(REGIMES)[0]


def _form_page(
    request: Request, form: Form, errors: list[FieldError], status_code: int = 200
) -> Response:
    platform = platform_of(request)
    regimes = sorted(((key, r.name) for key, r in REGIMES.items()), key=lambda kv: kv[1])
    return page(
        request,
        "start.html",
        {
            "form": form,
            "regime": form.regime or _default_regime(platform),
            "rights": [(r.value, TYPE_TEXT[r]) for r in RIGHTS],
            "regimes": regimes,
            "fields": rectifiable_fields(platform),
            "errors": errors,
            "error_for": errors_by_field(errors),
        },
        status_code=status_code,
    )


@router.get("/")
async def start(request: Request) -> Response:
    return _form_page(request, Form(), [])


def _text(form: dict[str, str], name: str, limit: int) -> str:
    return form.get(name, "").strip()[:limit]


def _checked(values: dict[str, str]) -> tuple[Form, list[FieldError]]:
    form = Form(
        right=_text(values, "right", 32),
        regime=_text(values, "regime", 32),
        correction_field=_text(values, "correction_field", 300),
    )
    errors: list[FieldError] = []
    if form.right not in {r.value for r in RIGHTS}:
        errors.append(FieldError("right-access", msg("Choose what you want us to do.")))
    if not _text(values, "email", MAX_EMAIL + 1):
        errors.append(FieldError("email", msg("Enter your email address.")))
    if form.regime not in REGIMES:
        errors.append(FieldError("regime", msg("Choose the law that applies to you.")))
    if form.right == RequestType.RECTIFICATION.value:
        if not form.correction_field:
            errors.append(FieldError("correction-field", msg("Choose what to correct.")))
        if not _text(values, "correction_value", MAX_VALUE):
            errors.append(FieldError("correction-value", msg("Enter the correct value.")))
    return form, errors


def _service_error(exc: InvalidInput) -> FieldError:
    """The form field a service's refusal is about, with our own words (the service's message
    is English and may name the law's articles; ours is translated)."""
    where = exc.field or ""
    if where == "type":
        return FieldError("regime", msg("This law does not give that right. Choose another law."))
    if where.startswith("identities"):
        return FieldError("email", msg("Enter a valid email address, like name@example.com."))
    if where.startswith("corrections") and "no such field" in str(exc):
        return FieldError("correction-field", msg("Choose what to correct."))
    if where.startswith("corrections"):
        return FieldError("correction-value", msg("This value cannot be used for that field."))
    if where == "regime":
        return FieldError("regime", msg("Choose the law that applies to you."))
    return FieldError("right-access", msg("Some of the values sent were not valid."))


def _new_request(values: dict[str, str], form: Form) -> requests.NewRequest:
    corrections = None
    if form.right == RequestType.RECTIFICATION.value:
        corrections = {form.correction_field: _text(values, "correction_value", MAX_VALUE)}
    return requests.NewRequest(
        type=form.right,
        identities={"email": _text(values, "email", MAX_EMAIL + 1)},
        regime=form.regime,
        corrections=corrections,
        source="privacy_center",
    )


@router.post("/requests")
async def submit(request: Request) -> Response:
    raw = await request.form()
    values = {k: v for k, v in raw.items() if isinstance(v, str)}
    form, errors = _checked(values)
    if errors:
        return _form_page(request, form, errors, 422)
    deps = api_deps(request)
    try:
        stored, created = await requests.submit_and_start(
            deps.platform, deps.workflows, _new_request(values, form)
        )
    except InvalidInput as exc:
        return _form_page(request, form, [_service_error(exc)], 422)
    if created and gpc_header(request.headers.get("sec-gpc")):
        # As the REST intake: the browser's Global Privacy Control goes to the consent ledger.
        await honour_gpc_on_intake(deps.platform, stored.id)
    response = see_other(request_path(stored.id))
    token = lifecycle.subject_token(deps.platform, stored.id)
    keep_subject_token(request, response, stored.id, token)
    return response
