"""Key templates of the `redis` connector: `session:{user_id}:*` and the like.

A template is literal text, `{field}` placeholders and `*` wildcards. Filling it with lookup
values gives either exact keys (no wildcard left) or SCAN MATCH patterns; a regex built the same
way checks every key SCAN returns, so a glob quirk can never pull in another subject's key.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rightsflow.domain.connector import Scalar

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Glob characters other than `*` are refused in the literal text: they would make a template
# mean something else to SCAN than to the regex check.
_GLOB_SPECIAL = re.compile(r"[?\[\]\\]")
_GLOB_ESCAPE = re.compile(r"([*?\[\]\\])")
# More values than this for one placeholder are found with one SCAN instead of one per value.
MAX_PATTERNS = 8


@dataclass(frozen=True)
class Search:
    """Where a subject's keys are: exact keys to read, and patterns to SCAN for."""

    exact: tuple[str, ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (MATCH pattern, check on each key)


@dataclass(frozen=True)
class KeyTemplate:
    """A parsed template; `parts` alternates literal text and placeholder names."""

    text: str
    parts: tuple[tuple[str, str | None], ...]  # (literal, placeholder after it or None)

    @classmethod
    def parse(cls, text: str) -> KeyTemplate:
        """Raise ValueError (with a message safe to show) if `text` is not a valid template."""
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            raise ValueError("unbalanced braces (write {field} placeholders)") from None
        parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parsed:
            if _GLOB_SPECIAL.search(literal):
                raise ValueError("only `*` may be used as a wildcard (no ?, [, ] or \\)")
            if name is not None and (spec or conversion or not _IDENTIFIER.fullmatch(name)):
                raise ValueError(f"placeholder {{{name}}} must be a plain field name")
            parts.append((literal, name))
        template = cls(text, tuple(parts))
        if not template.placeholders:
            raise ValueError("the template has no {field} placeholder to fill with identities")
        return template

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name in self.parts if name is not None))

    @property
    def exact(self) -> bool:
        """Whether filled placeholders give one key (no wildcard in the literal text)."""
        return not any("*" in literal for literal, _ in self.parts)

    def matches(self, key: str) -> bool:
        """Whether `key` is a key of this template (any placeholder values)."""
        return self._regex({}).fullmatch(key) is not None

    def key_for(self, values: Mapping[str, str]) -> str:
        """The key for placeholder values (the template must be exact)."""
        return "".join(literal + (values[name] if name else "") for literal, name in self.parts)

    def search(self, lookups: Mapping[str, Sequence[Scalar]]) -> Search:
        """Keys and patterns for keys where any lookup field holds one of its values.

        A placeholder without a value of its own becomes a wildcard (lookups are OR-ed);
        `_key` lookups are exact keys, kept only if they are keys of this template."""
        exact: list[str] = [key for key in _texts(lookups.get("_key", ())) if self.matches(key)]
        patterns: dict[str, re.Pattern[str]] = {}
        for name in self.placeholders:
            values = list(dict.fromkeys(_texts(lookups.get(name, ()))))
            if self.exact and len(self.placeholders) == 1:
                exact += [self.key_for({name: value}) for value in values]
            elif len(values) > MAX_PATTERNS:
                # SCAN walks the whole keyspace whatever MATCH says: one walk for every value,
                # filtered here, instead of one walk per value.
                patterns.setdefault(self._glob({}), self._regex({name: values}))
            else:
                for value in values:
                    patterns.setdefault(self._glob({name: value}), self._regex({name: [value]}))
        return Search(tuple(dict.fromkeys(exact)), tuple(patterns.items()))

    def _glob(self, filled: Mapping[str, str]) -> str:
        return "".join(
            literal
            + ("" if name is None else _glob_escape(filled[name]) if name in filled else "*")
            for literal, name in self.parts
        )

    def _regex(self, filled: Mapping[str, Sequence[str]]) -> re.Pattern[str]:
        """Keys of the template whose placeholders in `filled` hold one of their values."""
        pieces = []
        for literal, name in self.parts:
            pieces.append(".*".join(re.escape(chunk) for chunk in literal.split("*")))
            if name is not None:
                values = filled.get(name)
                pieces.append(f"(?:{'|'.join(map(re.escape, values))})" if values else ".*")
        return re.compile("".join(pieces), re.DOTALL)


def _glob_escape(value: str) -> str:
    return _GLOB_ESCAPE.sub(r"\\\1", value)


def _texts(values: Iterable[Scalar]) -> list[str]:
    """Lookup values as key text. NULL never matches; an empty string is dropped too, since
    it would widen `session:{user_id}*` to every session."""
    texts = []
    for value in values:
        if value is None or isinstance(value, bool):
            continue
        text = str(value)
        if text:
            texts.append(text)
    return texts
