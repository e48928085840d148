"""The `saas` connector: a vendor's HTTP API, described by a YAML file (see `saas_spec`).

The system config names the vendor file (or a shipped one: `vendor: stripe`) and gives the
secrets it declares. Rows are read by one request per lookup value, following the vendor's
pagination; rows an API returns that do not hold the value asked for are dropped. A mask reads
the rows first and updates only those that differ, so a repeat changes nothing; a delete counts
the rows that existed (a no-data status means already gone).

An HTTP API has no transactions: a mask or delete that fails half-way leaves the rows before
the failure changed. Running it again finishes the work without changing anything twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from rightsflow.connectors.base import ConnectorSpec, check_page_size, in_pages, key_tuples
from rightsflow.connectors.saas_consent import consent_call, consent_reference
from rightsflow.connectors.saas_http import Call, SaasHttp
from rightsflow.connectors.saas_pages import at_path, read_rows, text_of, write_call
from rightsflow.connectors.saas_spec import (
    CheckOp,
    Collection,
    RateLimit,
    ReadOp,
    Retries,
    Vendor,
    load_vendor,
)
from rightsflow.domain.connector import ConsentAck, ConsentNotice, Row, RowChange, Scalar
from rightsflow.domain.errors import ConnectorFailure, InvalidInput
from rightsflow.domain.plan import PlanNode

Key = tuple[Any, ...]


class SecretRef(BaseModel):
    """A secret read when the connector starts: from an environment variable or a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env and file")
        return self


class SaasConfig(BaseModel):
    """One `saas` system. Secret values are never shown: not in errors, reprs or the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    vendor: str = Field(
        min_length=1, description="a vendor file path, or the name of a shipped one (stripe)"
    )
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+[^\s?#]*$")
    secrets: dict[str, SecretStr | SecretRef] = Field(default_factory=dict)
    rate_limit: RateLimit | None = None  # overrides the vendor file's
    retries: Retries | None = None
    timeout: float | None = Field(default=None, gt=0, le=600)
    allow_private_network: bool = Field(
        default=False, description="Allow loopback/private/link-local targets (an internal API)"
    )
    consent: bool = Field(
        default=True, description="Tell the vendor about opt-outs (if its file has a consent call)"
    )
    consent_purposes: tuple[str, ...] | None = Field(
        default=None, description="The purposes it acts on, instead of the vendor file's"
    )

    @model_validator(mode="after")
    def _matches_vendor(self) -> SaasConfig:
        vendor = self.load()
        missing = sorted(set(vendor.secrets) - set(self.secrets))
        unknown = sorted(set(self.secrets) - set(vendor.secrets))
        if missing:
            raise ValueError(f"secrets: missing {', '.join(missing)} (the vendor file needs them)")
        if unknown:
            raise ValueError(f"secrets: {', '.join(unknown)} not declared by the vendor file")
        if self.base_url is None and vendor.base_url is None:
            raise ValueError("base_url: required (the vendor file has none)")
        return self

    def vendor_path(self) -> Path:
        if "/" in self.vendor or self.vendor.endswith((".yml", ".yaml")):
            return Path(self.vendor)
        shipped = resources.files("rightsflow.sample") / "saas" / f"{self.vendor}.yml"
        return Path(str(shipped))

    def load(self) -> Vendor:
        """The vendor file, validated; raises ValueError (for pydantic) listing problems."""
        path = self.vendor_path()
        if not path.is_file():
            raise ValueError(f"vendor: no vendor file {path.name} (a path, or a shipped name)")
        try:
            return load_vendor(path)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    def secret_values(self) -> dict[str, str]:
        return {name: _reveal(name, value) for name, value in self.secrets.items()}


def _reveal(name: str, value: SecretStr | SecretRef) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if value.env is not None:
        found = os.environ.get(value.env)
        if not found:
            raise ConnectorFailure(f"secret {name}: environment variable not set", retryable=False)
        return found
    try:
        return Path(value.file or "").read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConnectorFailure(
            f"secret {name}: file cannot be read ({type(exc).__name__})", retryable=False
        ) from None


class SaasConnector:
    """One configured vendor API. Thread-safe: see `SaasHttp`."""

    def __init__(self, config: SaasConfig) -> None:
        self._config = config
        self._vendor = config.load()
        self._http = SaasHttp(
            self._vendor,
            config.base_url or self._vendor.base_url or "",
            config.secret_values(),
            retries=config.retries or self._vendor.retries,
            rate_limit=config.rate_limit or self._vendor.rate_limit,
            timeout=config.timeout or self._vendor.timeout,
            allow_private_network=config.allow_private_network,
        )

    # -- the Connector protocol -------------------------------------------------------------

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        return [row for page in self.retrieve_pages(node, lookups, 500) for row in page]

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        check_page_size(page_size)
        collection = self._collection(node)
        # Choose every operation now, so a lookup the vendor cannot do fails before any I/O.
        plan = [
            (self._read_op(node, collection, name), name, values)
            for name, values in lookups.items()
        ]
        return in_pages(self._rows(node, plan), page_size)

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        found = self._rows_by_key(node, keys)
        return [_project(row, node.fetch_fields) for row in found.values()]

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        if not changes:
            return 0
        op = self._collection(node).update
        if op is None:
            raise ConnectorFailure(
                f"{node.address}: the vendor file has no update", retryable=False
            )
        for change in changes:
            if set(change.values) & set(node.primary_key):
                raise ConnectorFailure(f"{node.address}: a key cannot be masked", retryable=False)
        current = self._rows_by_key(node, [change.key for change in changes])
        pending: dict[Key, dict[str, Any]] = {}
        counted: dict[Key, int] = {}
        for change in changes:
            key = _norm(key_tuples(node, [change.key])[0])
            row = current.get(key)
            if row is None:
                continue  # gone already
            differ = {f: v for f, v in change.values.items() if row.get(f) != v}
            if differ:
                row.update(differ)
                pending.setdefault(key, {}).update(differ)
                counted[key] = counted.get(key, 0) + 1
        changed = 0
        for key, values in pending.items():
            named = dict(zip(node.primary_key, key, strict=True))
            call = write_call(op, named, values, f"{node.collection}.update")
            if self._http.send(call) is not None:
                changed += counted[key]
        return changed

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        if not keys:
            return 0
        op = self._collection(node).delete
        if op is None:
            raise ConnectorFailure(
                f"{node.address}: the vendor file has no delete", retryable=False
            )
        wanted = key_tuples(node, keys)
        if op.confirm_exists:
            wanted = list(self._rows_by_key(node, keys))
        deleted = 0
        for key in wanted:
            named = dict(zip(node.primary_key, key, strict=True))
            first, *rest = op.steps
            if self._http.send(write_call(first, named, {}, f"{node.collection}.delete")) is None:
                continue  # already gone
            for step in rest:
                self._http.send(write_call(step, named, {}, f"{node.collection}.delete"))
            deleted += 1
        return deleted

    # -- the optional ConsentReceiver protocol ------------------------------------------------

    def wants_consent(self, subject_kind: str, withdrawn: frozenset[str]) -> bool:
        op = self._vendor.consent
        if op is None or not self._config.consent or op.by != subject_kind:
            return False
        return bool(withdrawn & set(self._config.consent_purposes or op.purposes))

    def tell_consent(self, notice: ConsentNotice) -> ConsentAck:
        op = self._vendor.consent
        if op is None or op.by not in notice.identities:
            raise ConnectorFailure(
                f"vendor {self._vendor.name}: cannot be told about this subject", retryable=False
            )
        response = self._http.send(consent_call(op, notice))
        return ConsentAck(confirmed=True, reference=consent_reference(op, response))

    def check(self) -> None:
        check = self._vendor.check
        if check is None:
            self._http.fetch_token()
            return
        self._http.send(_check_call(check))

    def close(self) -> None:
        self._http.close()

    # -- internals --------------------------------------------------------------------------

    def _collection(self, node: PlanNode) -> Collection:
        collection = self._vendor.collections.get(node.collection)
        if collection is None:
            known = ", ".join(sorted(self._vendor.collections))
            raise ConnectorFailure(
                f"{node.address}: vendor {self._vendor.name} has no collection "
                f"{node.collection!r} (it has: {known})",
                retryable=False,
            )
        if node.primary_key and tuple(node.primary_key) != collection.primary_key:
            raise ConnectorFailure(
                f"{node.address}: the data map's primary key differs from the vendor file's",
                retryable=False,
            )
        return collection

    def _read_op(self, node: PlanNode, collection: Collection, field: str) -> ReadOp:
        op = next((op for op in collection.read if op.by == (field,)), None)
        if op is None:
            can = sorted({" + ".join(op.by) for op in collection.read})
            raise ConnectorFailure(
                f"{node.address}: vendor {self._vendor.name} cannot look up by {field} "
                f"(it reads by: {', '.join(can)})",
                retryable=False,
            )
        return op

    def _rows(
        self, node: PlanNode, plan: list[tuple[ReadOp, str, Sequence[Scalar]]]
    ) -> Iterator[Row]:
        seen: set[Key] = set()
        for op, name, values in plan:
            for value in dict.fromkeys(v for v in values if v is not None):
                for row in read_rows(self._http, op, {name: value}, f"{node.collection}.read"):
                    if op.match and not _holds(row, name, value):
                        continue
                    key = _norm(tuple(row.get(k) for k in node.primary_key))
                    if node.primary_key and key in seen:
                        continue  # found through another lookup already: each row once
                    seen.add(key)
                    yield _project(row, node.fetch_fields)

    def _rows_by_key(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> dict[Key, Row]:
        """Whole rows by normalised key, read with the operation by the most key fields (the
        key itself, or a part of it such as the parent's id, filtered here)."""
        collection = self._collection(node)
        tuples = key_tuples(node, keys)
        wanted = {_norm(key) for key in tuples}
        if not wanted:
            return {}
        op = _key_op(node, collection)
        found: dict[Key, Row] = {}
        groups = dict.fromkeys(
            tuple((name, key[node.primary_key.index(name)]) for name in op.by) for key in tuples
        )
        for group in groups:
            for row in read_rows(self._http, op, dict(group), f"{node.collection}.read"):
                key = _norm(tuple(row.get(name) for name in node.primary_key))
                if key in wanted:
                    found.setdefault(key, row)
        return found


def _key_op(node: PlanNode, collection: Collection) -> ReadOp:
    fitting = [op for op in collection.read if set(op.by) <= set(node.primary_key)]
    if not fitting:
        raise ConnectorFailure(
            f"{node.address}: the vendor file reads by no primary key field", retryable=False
        )
    return max(fitting, key=lambda op: len(op.by))


def _check_call(check: CheckOp) -> Call:
    return Call("check", check.method, check.path, dict(check.query))


def _norm(key: Sequence[Any]) -> Key:
    """Keys compared as text: a path parameter is text, and APIs differ on "7" versus 7."""
    return tuple(text_of(part) if isinstance(part, str | int) else part for part in key)


def _holds(row: Row, path: str, value: Scalar) -> bool:
    found = at_path(row, path)
    items = found if isinstance(found, list) else [found]
    return any(item is not None and _norm([item]) == _norm([value]) for item in items)


def _project(row: Row, fields: Sequence[str]) -> Row:
    return {name: row.get(name) for name in fields} if fields else row


def _create(config: SaasConfig) -> SaasConnector:
    return SaasConnector(config)


SAAS_CONNECTOR: ConnectorSpec[SaasConfig] = ConnectorSpec(
    kind="saas",
    config_model=SaasConfig,
    factory=_create,
    capabilities=frozenset({"retrieve", "mask", "delete", "consent"}),
    description="A SaaS vendor's HTTP API described by a YAML file (no Python per vendor)",
)
