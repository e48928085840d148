"""The vendor file of the `saas` connector: one YAML document describes one vendor's HTTP API.

A vendor file says where the API is, how to authenticate, and per collection how to read rows
(by which fields, where the rows are in a response, how pages follow each other), how to
update a row and how to delete one. Adding a vendor needs no Python. `load_vendor` validates a
file and reports every problem with its YAML path and line, never with a value from the file.

Templates: `{name}` in a path, query value or body leaf is filled with a lookup or key field
(read, update, delete) or with a secret (auth, headers). Which names a template may use is
checked here, so a typo fails when the file is loaded, not in the middle of an erasure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.yaml_lines import PathStep, compose, problem_location

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/?#]+[^\s?#]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- auth -----------------------------------------------------------------------------------


class NoAuth(_Strict):
    kind: Literal["none"]


class BearerAuth(_Strict):
    kind: Literal["bearer"]
    token: str = Field(min_length=1)  # a template over secrets, e.g. "{api_key}"


class BasicAuth(_Strict):
    kind: Literal["basic"]
    username: str = Field(min_length=1)  # e.g. "{email}/token" (Zendesk API tokens)
    password: str = Field(min_length=1)


class ApiKeyAuth(_Strict):
    kind: Literal["api_key"]
    where: Literal["header", "query"] = Field(alias="in")
    name: str = Field(min_length=1)  # header or query parameter name
    value: str = Field(min_length=1)


class OAuth2ClientCredentials(_Strict):
    """Tokens from `token_url` (relative to the base URL or absolute), cached until shortly
    before `expires_in` runs out and fetched again once when the API answers 401."""

    kind: Literal["oauth2_client_credentials"]
    token_url: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scope: str | None = None
    client_auth: Literal["basic", "body"] = "body"  # how the client proves who it is
    default_expires_in: float = Field(default=3600, gt=0)  # when the server does not say


Auth = Annotated[
    NoAuth | BearerAuth | BasicAuth | ApiKeyAuth | OAuth2ClientCredentials,
    Field(discriminator="kind"),
]

# -- pagination -----------------------------------------------------------------------------


class CursorPages(_Strict):
    """The next page is asked for with `param` = a cursor taken from the response
    (`next_from`, a dotted path) or from the last row (`next_from_row`, a field, Stripe's
    `starting_after`). Stops when `has_more` (a dotted path) is false, or the cursor is empty."""

    kind: Literal["cursor"]
    param: str = Field(min_length=1)
    next_from: str | None = None
    next_from_row: str | None = None
    has_more: str | None = None
    size_param: str | None = None
    size: int = Field(default=100, ge=1, le=10_000)


class LinkPages(_Strict):
    """The next page is the `rel="next"` URL of the Link header (RFC 8288), on the same host."""

    kind: Literal["link"]
    size_param: str | None = None
    size: int = Field(default=100, ge=1, le=10_000)


class OffsetPages(_Strict):
    """`param` counts rows (or pages, with `unit: pages`); a short page is the last one."""

    kind: Literal["offset"]
    param: str = Field(default="offset", min_length=1)
    size_param: str = Field(default="limit", min_length=1)
    size: int = Field(default=100, ge=1, le=10_000)
    start: int = Field(default=0, ge=0)
    unit: Literal["rows", "pages"] = "rows"


Pagination = Annotated[CursorPages | LinkPages | OffsetPages, Field(discriminator="kind")]

# -- operations -----------------------------------------------------------------------------

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
NoData = Field(default=(404,), description="statuses that mean: no such row (not a failure)")


class ReadOp(_Strict):
    """Rows by the values of the `by` fields; one request (and its pages) per value."""

    by: tuple[str, ...] = Field(min_length=1)
    method: Literal["GET", "POST"] = "GET"
    path: str = Field(min_length=1)
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None  # JSON body; string leaves are templates
    rows_at: str = ""  # dotted path to the rows (a list, or one object); "" is the whole body
    pagination: Pagination | None = None
    no_data_status: tuple[int, ...] = NoData
    # Keep only rows whose `by` fields hold the values asked for: an API that ignores an
    # unknown filter must not make us erase somebody else's rows.
    match: bool = True
    # Rows holding all of these values count as gone: Stripe answers a read of a deleted
    # customer with 200 and {"id": ..., "deleted": true}.
    absent_when: dict[str, Any] = Field(default_factory=dict)

    @field_validator("by", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class WriteOp(_Strict):
    """One request per row; `path`, `query` and `body` leaves are templates over key fields."""

    method: Method
    path: str = Field(min_length=1)
    query: dict[str, str] = Field(default_factory=dict)
    body: Literal["json", "form", "none"] = "json"
    body_at: str | None = None  # wrap the values, e.g. Zendesk's {"user": {...}}
    no_data_status: tuple[int, ...] = NoData


class DeleteOp(_Strict):
    """Delete one row: its `steps` in order (e.g. deactivate, then delete). A no-data status
    on the first step means the row was already gone. With `confirm_exists` the rows are read
    first and only those found are deleted and counted (for APIs whose DELETE of an unknown id
    still succeeds)."""

    steps: tuple[WriteOp, ...] = Field(min_length=1)
    confirm_exists: bool = False

    @field_validator("steps", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value


class CheckOp(_Strict):
    method: Literal["GET", "HEAD", "POST"] = "GET"
    path: str = Field(min_length=1)
    query: dict[str, str] = Field(default_factory=dict)


class ConsentOp(_Strict):
    """Tell the vendor about an opt-out or a withdrawal: one request per consent record.
    `by` is the kind of subject the vendor knows people by (records of other kinds are not
    sent); `purposes` are those whose withdrawal it acts on (an unsubscribe list acts on
    marketing, not on analytics). Templates may use `{<by>}` and `{record_id}`. A no-data
    status counts as told (e.g. the vendor never heard of the person)."""

    by: Literal["email", "user_id", "device_id"]
    purposes: tuple[str, ...] = Field(min_length=1)
    method: Method = "POST"
    path: str = Field(min_length=1)
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None  # JSON body; string leaves are templates
    no_data_status: tuple[int, ...] = ()
    reference_at: str | None = None  # dotted path to the vendor's id for it, if it gives one


class Collection(_Strict):
    primary_key: tuple[str, ...] = Field(min_length=1)
    read: tuple[ReadOp, ...] = Field(min_length=1)
    update: WriteOp | None = None
    delete: DeleteOp | None = None

    @field_validator("delete", mode="before")
    @classmethod
    def _steps(cls, value: object) -> object:
        if isinstance(value, list) or (isinstance(value, dict) and "steps" not in value):
            return {"steps": value}
        return value


# -- limits and the vendor ------------------------------------------------------------------


class RateLimit(_Strict):
    """A token bucket per system: `per_second` on average, bursts of up to `burst`."""

    per_second: float = Field(gt=0, le=10_000)
    burst: int = Field(default=1, ge=1, le=10_000)


class Retries(_Strict):
    """Retries of timeouts, connection errors, 429 and 5xx; other statuses are not retried."""

    attempts: int = Field(default=4, ge=1, le=10)
    backoff: float = Field(default=0.5, ge=0, le=60)  # first wait; doubles each time
    max_backoff: float = Field(default=20, ge=0, le=600)
    max_retry_after: float = Field(default=60, ge=0, le=3600)  # a longer Retry-After fails


class Vendor(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    base_url: HttpUrl | None = None  # the system config may give or override it
    secrets: tuple[str, ...] = ()
    auth: Auth
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30, gt=0, le=600)
    rate_limit: RateLimit | None = None
    retries: Retries = Retries()
    check: CheckOp | None = None
    collections: dict[str, Collection] = Field(min_length=1)
    consent: ConsentOp | None = None  # gives the system the "consent" capability


# -- loading --------------------------------------------------------------------------------


def load_vendor(path: Path) -> Vendor:
    """The validated vendor file; `InvalidInput` listing every problem as `line N: path: ...`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"vendor file {path.name}: cannot be read ({type(exc).__name__})"
        ) from None
    return parse_vendor(text, path.name)


def parse_vendor(text: str, file: str = "vendor.yml") -> Vendor:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        # The problem is what the parser expected ("expected ',' or '}'"), not the text.
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise InvalidInput(f"vendor file {file}: {where}{problem}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"vendor file {file}: expected a mapping at the top")
    node = compose(text)
    try:
        vendor = Vendor.model_validate(data)
    except ValidationError as exc:
        found = [(_doc_path(data, e["loc"]), _text(e)) for e in exc.errors()]
        raise _invalid(file, found, node) from None
    problems = list(_template_problems(vendor))
    if problems:
        raise _invalid(file, problems, node)
    return vendor


def _invalid(file: str, problems: list[tuple[list[PathStep], str]], node: Any) -> InvalidInput:
    lines = [f"{problem_location(node, path)}: {message}" for path, message in problems]
    first = ".".join(str(step) for step in problems[0][0]) if problems else None
    return InvalidInput(f"vendor file {file}: " + "; ".join(lines), field=first)


def _text(error: Any) -> str:
    """Pydantic's message without the input (it may be a secret pasted in the wrong place)."""
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _doc_path(data: Any, loc: tuple[int | str, ...]) -> list[PathStep]:
    """`loc` as a path into the document. Steps pydantic adds that are not keys in the file
    (a union's tag such as `bearer`, the `steps` of a `delete` given as one or a list) are
    dropped, so the path and its line point at what the author wrote."""
    path: list[PathStep] = []
    current = data
    for step in loc:
        if _has(current, step):
            current = current[step]
        elif isinstance(current, dict | list) and _added(current, step):
            continue
        else:
            current = None
        path.append(step)
    return path


def _has(container: Any, step: int | str) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and 0 <= step < len(container)


def _added(container: dict[str, Any] | list[Any], step: int | str) -> bool:
    if isinstance(container, dict) and container.get("kind") == step:
        return True
    return step == "steps"


# -- templates ------------------------------------------------------------------------------


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def _leaves(value: Any, path: list[PathStep]) -> Iterator[tuple[list[PathStep], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, [*path, key])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, [*path, index])


def _unknown(
    where: list[PathStep], value: Any, allowed: set[str], what: str
) -> Iterator[tuple[list[PathStep], str]]:
    for path, template in _leaves(value, where):
        for name in placeholders(template):
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                yield path, f"unknown placeholder {{{name}}}: {what} ({known})"


def _template_problems(vendor: Vendor) -> Iterator[tuple[list[PathStep], str]]:
    secrets = set(vendor.secrets)
    for index, name in enumerate(vendor.secrets):
        if not _NAME.fullmatch(name):
            yield ["secrets", index], "a secret name is letters, digits and _"
    auth = vendor.auth.model_dump(exclude={"kind", "where", "name", "scope", "client_auth"})
    yield from _unknown(["auth"], auth, secrets, "declare it under secrets")
    yield from _unknown(["headers"], vendor.headers, secrets, "declare it under secrets")
    if vendor.check is None and vendor.auth.kind != "oauth2_client_credentials":
        yield ["check"], "required (a cheap request that touches no data) unless auth is OAuth2"
    if vendor.check is not None:
        yield from _unknown(["check"], vendor.check.model_dump(), set(), "a check takes none")
    for name, collection in vendor.collections.items():
        yield from _collection_problems(["collections", name], collection)
    if vendor.consent is not None:
        op = vendor.consent
        templates = {"path": op.path, "query": op.query, "body": op.body}
        allowed = {op.by, "record_id"}
        yield from _unknown(["consent"], templates, allowed, "the identity in `by` or the record")


def _collection_problems(
    where: list[PathStep], collection: Collection
) -> Iterator[tuple[list[PathStep], str]]:
    key = set(collection.primary_key)
    for index, op in enumerate(collection.read):
        at: list[PathStep] = [*where, "read", index]
        templates = {"path": op.path, "query": op.query, "body": op.body}
        yield from _unknown(at, templates, set(op.by), "use a field named in `by`")
        used = {name for _, t in _leaves(templates, []) for name in placeholders(t)}
        for name in op.by:
            if name not in used:
                yield [*at, "by"], f"{name} is never sent: use {{{name}}} in path, query or body"
        cursor = op.pagination
        if isinstance(cursor, CursorPages) and (cursor.next_from is None) == (
            cursor.next_from_row is None
        ):
            yield [*at, "pagination"], "give exactly one of next_from and next_from_row"
    writes: list[tuple[list[PathStep], WriteOp]] = []
    if collection.update is not None:
        writes.append(([*where, "update"], collection.update))
    if collection.delete is not None:
        for index, step in enumerate(collection.delete.steps):
            writes.append(([*where, "delete", index], step))
    for at, write in writes:
        templates = {"path": write.path, "query": write.query}
        yield from _unknown(at, templates, key, "use a primary_key field")
