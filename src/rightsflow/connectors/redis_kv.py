"""The `redis` connector: keys found by templates filled with identities (redis-py).

Each collection of a dataset bound to a redis system names a key template and a value type in
the system config. A row is one key, with `_key` (the key itself) as its primary key:
hash -> the hash fields, string -> `value`, set/list -> `members`, zset -> `members` as
`{"member", "score"}` by score. Templates with `*` are searched with SCAN (never KEYS), and
keys are read in pipelined batches. Erasure: `delete` UNLINKs keys; `mask` on a hash sets or
deletes (NULL) hash fields in one Lua call per key, so it is atomic, guarded and idempotent;
masking any other type deletes the key.

Failures become `ConnectorFailure` naming the collection and the error class only: key names
may hold identities (`user:alice@example.com`), so neither they nor redis messages are shown,
and the original exception is not chained.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Literal, TypeVar

import redis
from pydantic import BaseModel, ConfigDict, Field, field_validator
from redis import exceptions as redis_exc
from redis.connection import parse_url

from rightsflow.connectors.base import (
    ConnectorSpec,
    Row,
    RowChange,
    Scalar,
    check_page_size,
    in_pages,
)
from rightsflow.connectors.redis_keys import KeyTemplate, Search
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode

T = TypeVar("T")
KEY_FIELD = "_key"
RedisType = Literal["string", "hash", "set", "zset", "list"]
_SCHEMES = ("redis://", "rediss://", "unix://")
# Compare-and-set of hash fields on one key; returns 1 if anything changed. ARGV holds
# (field, is_null, value) triples. A key that is gone is not recreated.
_MASK_HASH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local changed = 0
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if ARGV[i + 1] == '1' then
    if current then redis.call('HDEL', KEYS[1], ARGV[i]); changed = 1 end
  elseif current ~= ARGV[i + 2] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]); changed = 1
  end
end
return changed
"""


class RedisCollection(BaseModel):
    """Where one collection's rows are: a key template and the type of value at each key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    type: RedisType

    @field_validator("key")
    @classmethod
    def _template(cls, value: str) -> str:
        KeyTemplate.parse(value)
        return value

    @property
    def template(self) -> KeyTemplate:
        return KeyTemplate.parse(self.key)


class RedisConfig(BaseModel):
    """Configuration of one `redis` system. `url` may hold a password: it is never echoed."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(min_length=1, repr=False)
    collections: dict[str, RedisCollection] = Field(min_length=1)
    batch_size: int = Field(default=500, ge=1, le=10_000)  # keys per pipeline and SCAN COUNT
    socket_timeout: float = Field(default=10, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(_SCHEMES):
            raise ValueError("not a redis URL (redis://host:port/db, rediss://... or unix://...)")
        try:
            parse_url(value)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        except ValueError:
            # redis-py's message may quote parts of the URL: say only what is wrong.
            raise ValueError("not a valid redis URL (check the port and the db number)") from None
        return value


class RedisConnector:
    """One configured redis server. Thread-safe: redis-py clients share a connection pool."""

    def __init__(self, config: RedisConfig, *, label: str = "redis connector") -> None:
        self._config = config
        self._label = label
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._templates = {name: c.template for name, c in config.collections.items()}

    @property
    def client(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                self._client = self._call(self._label, self._connect)
            return self._client

    # -- the Connector protocol -------------------------------------------------------------

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        pages = self.retrieve_pages(node, lookups, self._config.batch_size)
        return [row for page in pages for row in page]

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        check_page_size(page_size)
        search = self._search(node, lookups)
        return in_pages(self._rows(node, search), page_size)

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        wanted = self._keys(node, keys)
        return self._call(node.address, partial(self._read_all, node, wanted))

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        if self._collection(node).type != "hash":
            # A cache entry of another type cannot lose one field: the key goes.
            wanted = self._keys(node, [change.key for change in changes])
            return self._call(node.address, partial(self._unlink, wanted))
        plan = self._mask_plan(node, changes)
        return self._call(node.address, partial(self._mask_hashes, plan))

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        wanted = self._keys(node, keys)
        return self._call(node.address, partial(self._unlink, wanted))

    def check(self) -> None:
        self._call(self._label, self._ping)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- internals --------------------------------------------------------------------------

    def _ping(self) -> None:
        self.client.ping()

    def _connect(self) -> redis.Redis:
        timeout = self._config.socket_timeout
        return redis.Redis.from_url(
            self._config.url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def _collection(self, node: PlanNode) -> RedisCollection:
        collection = self._config.collections.get(node.collection)
        if collection is None:
            raise ConnectorFailure(
                f"{node.address}: collection {node.collection!r} has no key template in the "
                f"redis system config (configured: {', '.join(sorted(self._config.collections))})",
                retryable=False,
            )
        return collection

    def _search(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> Search:
        template = self._templates.get(node.collection) or self._collection(node).template
        unknown = sorted(set(lookups) - {KEY_FIELD, *template.placeholders})
        if unknown:
            # Finding rows by a value inside them would read every key: refuse, loudly.
            raise ConnectorFailure(
                f"{node.address}: cannot look up by {', '.join(unknown)}: only the key "
                f"template's placeholders ({', '.join(template.placeholders)}) and "
                f"{KEY_FIELD} can be looked up",
                retryable=False,
            )
        return template.search(lookups)

    def _keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[str]:
        """The distinct keys named, in order; a key outside the template is not one of ours."""
        template = self._templates.get(node.collection) or self._collection(node).template
        found: dict[str, None] = {}
        for key in keys:
            value = key.get(KEY_FIELD)
            if not isinstance(value, str):
                raise ConnectorFailure(
                    f"{node.address}: a key lacks the primary key field {KEY_FIELD}",
                    retryable=False,
                )
            if template.matches(value):
                found[value] = None
        return list(found)

    def _rows(self, node: PlanNode, search: Search) -> Iterator[Row]:
        for batch in self._guarded(node.address, self._key_batches(search)):
            yield from self._call(node.address, partial(self._read, node, batch))

    def _guarded(self, where: str, items: Iterator[T]) -> Iterator[T]:
        """`items`, with redis failures during iteration turned into `ConnectorFailure`."""
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except redis_exc.RedisError as exc:
                raise _failure(where, exc) from None
            yield item

    def _key_batches(self, search: Search) -> Iterator[list[str]]:
        """Distinct keys in batches: the exact ones, then what SCAN finds for each pattern."""
        size = self._config.batch_size
        seen: set[str] = set()
        for start in range(0, len(search.exact), size):
            batch = [k for k in search.exact[start : start + size] if k not in seen]
            seen.update(batch)
            if batch:
                yield batch
        for pattern, check in search.patterns:
            cursor: int = 0
            while True:
                cursor, raw = self.client.scan(cursor, match=pattern, count=size)
                batch = [k for k in map(_text, raw) if k not in seen and check.fullmatch(k)]
                seen.update(batch)
                if batch:
                    yield batch
                if cursor == 0:
                    break

    def _read_all(self, node: PlanNode, keys: Sequence[str]) -> list[Row]:
        size = self._config.batch_size
        batches = (keys[start : start + size] for start in range(0, len(keys), size))
        return [row for batch in batches for row in self._read(node, batch)]

    def _read(self, node: PlanNode, keys: Sequence[str]) -> list[Row]:
        """The rows at `keys` (one pipeline round trip); keys that are gone give no row."""
        kind = self._collection(node).type
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            _queue_read(pipe, kind, key)
        rows = []
        for key, value in zip(keys, pipe.execute(), strict=True):
            row = _row(kind, key, value)
            if row is not None:
                rows.append(_project(row, node.fetch_fields))
        return rows

    def _mask_plan(
        self, node: PlanNode, changes: Sequence[RowChange]
    ) -> list[tuple[str, list[str]]]:
        """One entry per distinct key in the template (later changes to a key add fields)."""
        keys = self._keys(node, [change.key for change in changes])
        wanted = set(keys)
        merged: dict[str, dict[str, Any]] = {}
        for change in changes:
            key = change.key.get(KEY_FIELD)
            if key in wanted:
                merged.setdefault(key, {}).update(change.values)
        return [(key, _mask_args(node, merged[key])) for key in keys]

    def _mask_hashes(self, plan: Sequence[tuple[str, list[str]]]) -> int:
        script = self.client.register_script(_MASK_HASH)
        size, changed = self._config.batch_size, 0
        for start in range(0, len(plan), size):
            pipe = self.client.pipeline(transaction=False)
            for key, args in plan[start : start + size]:
                script(keys=[key], args=args, client=pipe)
            changed += sum(int(result) for result in pipe.execute())
        return changed

    def _unlink(self, keys: Sequence[str]) -> int:
        size = self._config.batch_size
        return sum(
            int(self.client.unlink(*keys[start : start + size]))
            for start in range(0, len(keys), size)
        )

    def _call(self, where: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except redis_exc.RedisError as exc:
            raise _failure(where, exc) from None


def _queue_read(pipe: Any, kind: RedisType, key: str) -> None:
    if kind == "hash":
        pipe.hgetall(key)
    elif kind == "string":
        pipe.get(key)
    elif kind == "set":
        pipe.smembers(key)
    elif kind == "zset":
        pipe.zrange(key, 0, -1, withscores=True)
    else:
        pipe.lrange(key, 0, -1)


def _row(kind: RedisType, key: str, value: Any) -> Row | None:
    """A row from what redis returned; None if the key does not exist (empty or nil)."""
    if value is None or (kind != "string" and not value):
        return None
    if kind == "hash":
        return {KEY_FIELD: key, **{_text(f): _text(v) for f, v in value.items()}}
    if kind == "string":
        return {KEY_FIELD: key, "value": _text(value)}
    if kind == "set":
        return {KEY_FIELD: key, "members": sorted(_text(m) for m in value)}
    if kind == "zset":
        members = [{"member": _text(m), "score": float(s)} for m, s in value]
        return {KEY_FIELD: key, "members": members}
    return {KEY_FIELD: key, "members": [_text(m) for m in value]}


def _project(row: Row, fields: Sequence[str]) -> Row:
    """`fetch_fields` only (a hash missing a field gives NULL); all fields if none are named."""
    return {name: row.get(name) for name in fields} if fields else row


def _text(value: bytes | str) -> str:
    # Keys round-trip exactly (surrogateescape), so a non-UTF-8 key can still be erased.
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _mask_args(node: PlanNode, values: Mapping[str, Any]) -> list[str]:
    if KEY_FIELD in values:
        raise ConnectorFailure(f"{node.address}: {KEY_FIELD} cannot be masked", retryable=False)
    args: list[str] = []
    for field, value in values.items():
        args += [field, "1" if value is None else "0", "" if value is None else _stored(value)]
    return args


def _stored(value: Any) -> str:
    """How a mask value is stored in a hash field (redis holds strings only)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _failure(where: str, exc: redis_exc.RedisError) -> ConnectorFailure:
    """The error class (and a redis error code like WRONGTYPE), never the message: it may
    quote a key, and keys hold identities."""
    name = type(exc).__name__
    if isinstance(exc, redis_exc.ResponseError):
        # A pipeline wraps the reply as "Command # 1 (HGETALL <key>) of pipeline caused
        # error: WRONGTYPE ...": only the code after the last "error: " is kept.
        code = str(exc).rsplit("error: ", 1)[-1].split(" ", 1)[0]
        if code.isalpha() and code.isupper() and len(code) <= 20:
            name = f"{name} {code}"
    retryable = isinstance(
        exc, redis_exc.ConnectionError | redis_exc.TimeoutError | redis_exc.BusyLoadingError
    ) and not isinstance(exc, redis_exc.AuthenticationError)
    return ConnectorFailure(f"{where}: redis error ({name})", retryable=retryable)


def _create(config: RedisConfig) -> RedisConnector:
    return RedisConnector(config)


REDIS_CONNECTOR: ConnectorSpec[RedisConfig] = ConnectorSpec(
    kind="redis",
    config_model=RedisConfig,
    factory=_create,
    capabilities=frozenset({"retrieve", "mask", "delete"}),
    description="Redis keys found by templates filled with identities (SCAN, pipelined)",
)
