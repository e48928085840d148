"""What the privacy center's pages share: rendering with the visitor's language remembered,
the cookies the center sets (language, subject token, device id), form errors.

Cookies, not URLs, carry anything that grants access (the subject token) or identifies a
browser (the device id): a URL ends up in histories, logs and Referer headers."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from rightsflow.api.deps import api_deps
from rightsflow.api.web.i18n import LANG_COOKIE, LOCALES
from rightsflow.api.web.pages import NO_STORE, render
from rightsflow.services.platform import Platform

CENTER = "/privacy"
SUBJECT_COOKIE = "rf_subject"
DEVICE_COOKIE = "rf_device"
YEAR_S = 365 * 24 * 3600
SUBJECT_COOKIE_S = 90 * 24 * 3600  # long enough to follow a request to its end


def platform_of(request: Request) -> Platform:
    return api_deps(request).platform


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure when the site is public over https (plain http only in development)."""
    return platform_of(request).public_url.startswith("https://")


def remember_language(request: Request, response: Response) -> None:
    """`?lang=xx` picks the language for later pages too (the `lang` cookie, a year)."""
    chosen = request.query_params.get("lang")
    if chosen in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=YEAR_S,
            path="/",
            samesite="lax",
            secure=secure_cookies(request),
            httponly=True,
        )


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    response = render(request, f"center/{template}", context, status_code=status_code)
    remember_language(request, response)
    return response


def see_other(path: str) -> RedirectResponse:
    """Post/redirect/get: the answer to a form post."""
    return RedirectResponse(path, status_code=303, headers=NO_STORE)


# -- the subject token of a request, in a cookie only that request's pages receive ------------


def request_path(request_id: str) -> str:
    return f"{CENTER}/requests/{request_id}"


def keep_subject_token(request: Request, response: Response, request_id: str, token: str) -> None:
    response.set_cookie(
        SUBJECT_COOKIE,
        token,
        max_age=SUBJECT_COOKIE_S,
        path=request_path(request_id),
        samesite="strict",
        secure=secure_cookies(request),
        httponly=True,
    )


def subject_token_of(request: Request) -> str:
    return request.cookies.get(SUBJECT_COOKIE, "")


# -- the device id of the preferences page -----------------------------------------------------


def device_of(request: Request) -> tuple[str, bool]:
    """The browser's device id, and whether it is new (then `keep_device` must set it)."""
    found = request.cookies.get(DEVICE_COOKIE, "")
    if 16 <= len(found) <= 64 and found.replace("-", "").replace("_", "").isalnum():
        return found, False
    return secrets.token_urlsafe(24), True


def keep_device(request: Request, response: Response, device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=YEAR_S,
        path=CENTER,
        samesite="lax",
        secure=secure_cookies(request),
        httponly=True,
    )


# -- form errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """A message next to a form field (`field` is the input's id), in the visitor's language."""

    field: str
    message: str


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    return {e.field: e.message for e in errors}
