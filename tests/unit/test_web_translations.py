"""The privacy center is translated: every message of its templates, of the shared base and
error pages, and of its Python code (`msg()`, the standard purposes, the error pages' texts) has
a Spanish translation in web/locales/es.json, and es.json holds nothing else."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.api.web import center_preferences
from rightsflow.api.web.i18n import LOCALES_DIR, Translator
from rightsflow.api.web.pages import environment

WEB = Path(center_preferences.__file__).parent
TEMPLATES = WEB / "templates"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _template_messages(path: Path) -> Iterator[str]:
    for _line, _function, message in environment().extract_translations(path.read_text("utf-8")):
        if isinstance(message, str):
            yield message
        elif isinstance(message, tuple):
            yield from (m for m in message if isinstance(m, str))


def _strings(node: ast.AST) -> Iterator[str]:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
            yield inner.value


def _python_messages(path: Path) -> Iterator[str]:
    """Arguments of msg(...) calls, and the message argument of errors.py's error_page calls."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "msg" and node.args:
            yield from _strings(node.args[0])
        if node.func.id == "error_page" and len(node.args) == 3:
            yield from _strings(node.args[2])


def messages() -> set[str]:
    templates = [
        *sorted((TEMPLATES / "center").glob("*.html")),
        TEMPLATES / "base.html",
        TEMPLATES / "error.html",
    ]
    found = {m for t in templates for m in _template_messages(t)}
    for module in [*sorted(WEB.glob("center*.py")), WEB / "errors.py"]:
        found.update(_python_messages(module))
    found.update(center_preferences.PURPOSE_TEXTS)
    return found


def spanish() -> dict[str, str]:
    loaded: dict[str, str] = json.loads((LOCALES_DIR / "es.json").read_text("utf-8"))
    return loaded


def test_the_extraction_finds_the_pages_messages() -> None:
    """A guard on the extraction itself, so an empty set cannot pass the tests below."""
    found = messages()
    assert {"Skip to main content", "Sorry", "Not found.", "Make a privacy request"} <= found
    assert "Enter your email address." in found  # from Python (msg)
    assert "Sale and sharing" in found  # a standard purpose
    assert len(found) > 80


def test_every_message_has_a_spanish_translation() -> None:
    missing = sorted(messages() - spanish().keys())
    assert missing == [], f"add to locales/es.json: {missing}"


def test_spanish_has_no_stale_messages() -> None:
    stale = sorted(spanish().keys() - messages())
    assert stale == [], f"remove from locales/es.json: {stale}"


@pytest.mark.parametrize(("english", "translated"), sorted(spanish().items()))
def test_a_translation_keeps_the_placeholders_and_is_not_empty(
    english: str, translated: str
) -> None:
    assert translated.strip()
    assert sorted(_PLACEHOLDER.findall(translated)) == sorted(_PLACEHOLDER.findall(english))


def test_the_translator_uses_spanish_and_falls_back_to_english() -> None:
    words = Translator.for_locale("es")
    assert words.text("Sorry") == spanish()["Sorry"]
    assert words.text("a text nobody translated") == "a text nobody translated"
    assert Translator.for_locale("xx").locale == "en"
