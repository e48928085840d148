"""Translations of the web pages: English is the source text; a catalogue per other locale
(`locales/<code>.json`, English message -> translation) is loaded once.

The locale comes from `?lang=`, then the `lang` cookie (set when a visitor picks one), then
Accept-Language; anything unknown is English. Templates call `_("text", name=value)`: the
translation is looked up, marked safe (translations are ours), and the values are escaped into
it, as Jinja's "new style" gettext does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "en"
LOCALES: dict[str, str] = {"en": "English", "es": "Español"}  # code -> its own name
LANG_COOKIE = "lang"


@cache
def catalogue(locale: str) -> dict[str, str]:
    if locale == DEFAULT_LOCALE:
        return {}
    loaded: dict[str, str] = json.loads((LOCALES_DIR / f"{locale}.json").read_text("utf-8"))
    return loaded


@dataclass(frozen=True)
class Translator:
    locale: str
    messages: dict[str, str] = field(repr=False)

    @classmethod
    def for_locale(cls, locale: str) -> Translator:
        chosen = locale if locale in LOCALES else DEFAULT_LOCALE
        return cls(chosen, catalogue(chosen))

    def text(self, message: str, **values: Any) -> str:
        """Plain text (for Python code: flash messages, headers)."""
        found = self.messages.get(message) or message
        return found % values if values else found

    def __call__(self, message: str, **values: Any) -> Markup:
        found = Markup(self.messages.get(message) or message)  # noqa: S704 (our own catalogue)
        return found % values if values else found


def _accepted(header: str) -> list[str]:
    """Accept-Language's primary tags, best first (RFC 9110 §12.5.4)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag:
            ranked.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(request: Request) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LOCALES:
            return candidate
    for tag in _accepted(request.headers.get("accept-language", "")):
        if tag in LOCALES:
            return tag
    return DEFAULT_LOCALE
