"""Forms generated from a JSON schema (a connector's config model), and back.

`fields_of(schema)` turns a pydantic `model_json_schema()` into form fields: strings, numbers,
integers, booleans, enums (a select), arrays of strings (a textarea, one per line), nested
objects (a fieldset) and secrets (a password input: `writeOnly`, `format: password`, or a name
that says so). Anything else (maps, unions of objects) is a JSON textarea.

`config_of(fields, form)` turns the posted form back into a config mapping: an empty optional
field is left out (the model's default applies), so the model stays the one judge of validity.
Secret values are never put back into a re-rendered form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

PREFIX = "cfg"  # form names: cfg.url, cfg.rate_limit.per_second
# Names that hold a secret even when the schema does not say so (a shared HMAC secret).
_SECRET_NAME = re.compile(r"(secret|password|passwd|token|api_?key|credential)", re.IGNORECASE)
_SCALARS = {"string": "text", "integer": "integer", "number": "number", "boolean": "checkbox"}

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class FormField:
    """One input (or a fieldset of them, `children`) of a generated form."""

    path: tuple[str, ...]
    label: str
    widget: str  # text, password, integer, number, checkbox, select, lines, json, fieldset
    required: bool = False
    hint: str = ""
    default: Any = None
    options: tuple[str, ...] = ()  # a select's choices
    secret: bool = False  # never echoed back into the form
    children: tuple[FormField, ...] = ()
    in_optional: bool = False  # inside an optional fieldset: "required" means "if it is used"
    value: str = ""  # what the input shows (a default, or what was posted)
    error: str = ""

    @property
    def name(self) -> str:
        return ".".join((PREFIX, *self.path))

    @property
    def id(self) -> str:
        return "-".join((PREFIX, *self.path))

    @property
    def default_hint(self) -> str:
        """ "Default: 1000" for a field left empty (a nested object's default is not shown)."""
        if self.default is None or self.secret or self.widget == "fieldset":
            return ""
        if isinstance(self.default, bool):
            return "Default: on." if self.default else "Default: off."
        if isinstance(self.default, dict | list) and not self.default:
            return ""
        return f"Default: {_default_text(self)}."

    @property
    def full_hint(self) -> str:
        """The description and the default, as sentences."""
        hint = self.hint.strip()
        if hint and hint[-1] not in ".!?)":
            hint += "."
        return " ".join(part for part in (hint, self.default_hint) if part)

    @property
    def checked(self) -> bool:
        return self.value in {"true", "on"}


# -- schema -> fields -----------------------------------------------------------------------


def fields_of(schema: Schema) -> tuple[FormField, ...]:
    """The form fields of an object schema (its `$defs` resolved)."""
    return _object_fields(schema, schema.get("$defs", {}), ())


def _object_fields(schema: Schema, defs: Schema, path: tuple[str, ...]) -> tuple[FormField, ...]:
    required = set(schema.get("required", ()))
    properties: Mapping[str, Schema] = schema.get("properties", {})
    return tuple(
        _field(name, prop, defs, (*path, name), name in required)
        for name, prop in properties.items()
    )


def _field(
    name: str, prop: Schema, defs: Schema, path: tuple[str, ...], required: bool
) -> FormField:
    inner = _resolve(_without_null(prop), defs)
    base = FormField(
        path=path,
        # A property's own title; a nested model's title (`RateLimit`) reads worse than its name.
        label=str(prop.get("title") or name.replace("_", " ").title()),
        widget="json",
        required=required,
        hint=str(prop.get("description") or ""),
        default=prop.get("default"),
    )
    secret = _is_secret(name, inner) or _holds_secret(inner, defs)
    if "enum" in inner:
        return replace(base, widget="select", options=tuple(str(v) for v in inner["enum"]))
    kind = inner.get("type")
    if kind == "object" and "properties" in inner:
        children = _object_fields(inner, defs, path)
        if not required:
            children = tuple(replace(child, in_optional=True) for child in children)
        return replace(base, widget="fieldset", children=children)
    if kind == "array" and _resolve(inner.get("items", {}), defs).get("type") == "string":
        return replace(base, widget="lines", default=prop.get("default"))
    if isinstance(kind, str) and kind in _SCALARS:
        widget = "password" if secret and kind == "string" else _SCALARS[kind]
        return replace(base, widget=widget, secret=secret)
    return replace(base, secret=secret)  # a map, a union of objects: JSON


def _resolve(schema: Schema, defs: Schema) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Schema = defs.get(ref.removeprefix("#/$defs/"), {})
        return {**resolved, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _without_null(prop: Schema) -> Schema:
    """`X | None` is X (an optional field); a union of several real types stays a union."""
    options = prop.get("anyOf")
    if not isinstance(options, list):
        return prop
    real = [option for option in options if option.get("type") != "null"]
    return real[0] if len(real) == 1 else {"anyOf": real}


def _is_secret(name: str, schema: Schema) -> bool:
    return (
        bool(schema.get("writeOnly"))
        or schema.get("format") == "password"
        or bool(_SECRET_NAME.search(name) and not name.endswith("_env"))
    )


def _holds_secret(schema: Schema, defs: Schema, depth: int = 0) -> bool:
    """Whether a value the schema describes can contain a secret anywhere inside it."""
    if depth > 8:
        return False
    schema = _resolve(schema, defs)
    if schema.get("writeOnly") or schema.get("format") == "password":
        return True
    inner: list[Schema] = [*schema.get("anyOf", ()), *schema.get("properties", {}).values()]
    for key in ("additionalProperties", "items"):
        if isinstance(schema.get(key), Mapping):
            inner.append(schema[key])
    return any(_holds_secret(part, defs, depth + 1) for part in inner)


def walk(fields: Sequence[FormField]) -> Iterator[FormField]:
    """Every input field, fieldsets opened."""
    for item in fields:
        if item.widget == "fieldset":
            yield from walk(item.children)
        else:
            yield item


# -- defaults and posted values -> what the form shows ----------------------------------------


def with_defaults(fields: Sequence[FormField]) -> tuple[FormField, ...]:
    """The fields showing their defaults. Inside an optional fieldset nothing is filled in: an
    untouched optional section must post as absent, not as its defaults minus what is required."""
    return tuple(_shown(item, _default_text(item)) for item in fields)


def _default_text(item: FormField) -> str:
    default = item.default
    if default is None:
        return ""
    if item.widget == "checkbox":
        return "true" if default else ""
    if item.widget == "lines" and isinstance(default, list):
        return "\n".join(str(v) for v in default)
    if item.widget == "json":
        return json.dumps(default)
    return str(default)


def _shown(item: FormField, text: str) -> FormField:
    if item.widget == "fieldset":
        children = with_defaults(item.children) if item.required else item.children
        return replace(item, children=children)
    return replace(item, value="" if item.secret else text)


def refill(
    fields: Sequence[FormField], form: Mapping[str, str], errors: Mapping[str, str]
) -> tuple[FormField, ...]:
    """The fields showing what was posted (never a secret) and each field's error."""
    out = []
    for item in fields:
        if item.widget == "fieldset":
            out.append(replace(item, children=refill(item.children, form, errors)))
            continue
        posted = form.get(item.name, "")
        hidden = item.secret or holds_credentials(posted)
        out.append(replace(item, value="" if hidden else posted, error=errors.get(item.name, "")))
    return tuple(out)


def holds_credentials(value: str) -> bool:
    """A URL with a password in it (a DSN): treated as a secret."""
    try:
        return "://" in value and urlsplit(value).password is not None
    except ValueError:
        return False


# -- posted form -> config ---------------------------------------------------------------------


def config_of(
    fields: Sequence[FormField], form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config mapping of a posted form, and the values that could not even be read (a word
    in a number field, bad JSON) by form name; those are left out of the mapping."""
    errors: dict[str, str] = {}
    config = _values(fields, form, errors)
    return config, errors


def _values(
    fields: Sequence[FormField], form: Mapping[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in fields:
        key = item.path[-1]
        if item.widget == "fieldset":
            inner = _values(item.children, form, errors)
            if item.required or _filled_in(item, form):
                out[key] = inner
            continue
        try:
            value = _read(item, form.get(item.name, ""))
        except ValueError as exc:
            errors[item.name] = str(exc)
            continue
        if value is not None:
            out[key] = value
    return out


def _filled_in(fieldset: FormField, form: Mapping[str, str]) -> bool:
    """Whether anything but a checkbox was entered in an optional fieldset (an unchecked box
    posts nothing, so it cannot tell "left alone" from "turned off")."""
    return any(
        form.get(item.name, "").strip()
        for item in walk(fieldset.children)
        if item.widget != "checkbox"
    )


def _read(item: FormField, text: str) -> Any:
    """One field's value, or None to leave it out (the model's default applies)."""
    if item.widget == "checkbox":
        return text in {"true", "on"}
    text = text.strip() if item.widget != "password" else text
    if text == "":
        return None
    parse, problem = _PARSERS.get(item.widget, (str, ""))
    try:
        return parse(text)
    except ValueError:
        raise ValueError(problem) from None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# widget -> (parser, what to say when it fails)
_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "integer": (int, "enter a whole number"),
    "number": (float, "enter a number"),
    "lines": (_lines, ""),
    "json": (json.loads, "enter valid JSON"),
}


def error_targets(fields: Sequence[FormField], messages: Sequence[str]) -> dict[str, str]:
    """Validation messages (`a.b: text`, as connectors/registry.py writes them) by the form
    name of the field they are about: the deepest field whose path starts the message's path.
    A message about no field is kept under "" (the form as a whole)."""
    names = {item.path: item.name for item in walk(fields)}
    out: dict[str, str] = {}
    for message in messages:
        where, _, text = message.partition(": ")
        parts = tuple(where.split(".")) if where and where != "(root)" else ()
        name = next((names[parts[:n]] for n in range(len(parts), 0, -1) if parts[:n] in names), "")
        out.setdefault(name, text or message)
    return out


@dataclass(frozen=True)
class EnvRef:
    """A secret moved out of the data map: `${name}` in the YAML, the value in the environment."""

    name: str
    field: str

    @property
    def ref(self) -> str:
        return "${" + self.name + "}"


def env_name(system_key: str, path: Sequence[str]) -> str:
    raw = "_".join(("RIGHTSFLOW", system_key, *path)).upper()
    return re.sub(r"[^A-Z0-9_]", "_", raw)


@dataclass
class Redacted:
    config: dict[str, Any]
    env: list[EnvRef] = field(default_factory=list)


def redact(fields: Sequence[FormField], config: Mapping[str, Any], system_key: str) -> Redacted:
    """`config` with every secret (and every URL with a password) replaced by `${ENV}`: what
    can be saved into systems.yml without putting a secret in a file."""
    secrets = {item.path for item in walk(fields) if item.secret}
    out = Redacted(json.loads(json.dumps(config)))
    _redact(out, out.config, (), secrets, system_key)
    return out


def _redact(
    out: Redacted,
    node: dict[str, Any],
    path: tuple[str, ...],
    secrets: set[tuple[str, ...]],
    key: str,
) -> None:
    for name, value in node.items():
        here = (*path, name)
        hidden = here in secrets or any(here[: len(s)] == s for s in secrets)
        if isinstance(value, dict) and hidden and set(value) <= {"env", "file"}:
            continue  # a reference to where the secret is (saas SecretRef): no secret in it
        if isinstance(value, dict):
            _redact(out, value, here, secrets, key)
        elif (
            isinstance(value, str)
            and not value.startswith("${")
            and (hidden or holds_credentials(value))
        ):
            ref = EnvRef(env_name(key, here), ".".join(here))
            node[name] = ref.ref
            out.env.append(ref)
