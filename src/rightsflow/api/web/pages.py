"""Rendering pages: one Jinja environment (autoescaped), the context every page gets, and the
response headers pages share (no caching of anything personal)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from rightsflow.api.web.i18n import LOCALES, Translator, negotiate

NO_STORE = {"Cache-Control": "no-store"}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rightsflow.api.web", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,  # a typo in a template is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],  # only so `extract_translations` finds `_()` calls
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def translator(request: Request) -> Translator:
    cached = getattr(request.state, "translator", None)
    if isinstance(cached, Translator):
        return cached
    chosen = Translator.for_locale(negotiate(request))
    request.state.translator = chosen
    return chosen


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    translate: Translator | None = None,
) -> HTMLResponse:
    """The page, with `request`, `_` (the visitor's translations), `lang` and `locales` in its
    context besides the page's own values."""
    words = translate or translator(request)
    values = {
        "request": request,
        "_": words,
        "gettext": words,
        "lang": words.locale,
        "locales": LOCALES,
        **(context or {}),
    }
    body = environment().get_template(template).render(values)
    return HTMLResponse(body, status_code=status_code, headers=NO_STORE)
