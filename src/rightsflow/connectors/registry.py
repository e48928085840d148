"""Connector kinds by name: the built-ins plus plugins from the `rightsflow.connectors` group.

There is no registry at import time: a composition root calls `default_registry()` once and
passes the result down.

Built-ins are known by name and loaded on first use (`BUILTINS`: kind -> "module:attr"): their
modules import pyarrow, pyiceberg, redis or FastAPI (~1-2 s together), which a process whose data
map uses only `sql` never needs. Listing every kind with its schema (`connectors list`, the API)
imports them all, which is fine there.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from rightsflow.connectors.base import AnyConnector, AnySpec, ConnectorSpec, validate_kind
from rightsflow.domain.errors import InvalidInput, RightsflowError

ENTRY_POINT_GROUP = "rightsflow.connectors"

# Where each built-in's spec lives; imported only when its kind is first asked for.
BUILTINS: Mapping[str, str] = {
    "sql": "rightsflow.connectors.sql:SQL_CONNECTOR",
    "parquet": "rightsflow.connectors.parquet_lake:PARQUET_CONNECTOR",
    "redis": "rightsflow.connectors.redis_kv:REDIS_CONNECTOR",
    "saas": "rightsflow.connectors.saas:SAAS_CONNECTOR",
    "iceberg": "rightsflow.connectors.iceberg_lake:ICEBERG_CONNECTOR",
    "http_service": "rightsflow.connectors.http_service:HTTP_SERVICE_CONNECTOR",
    "manual": "rightsflow.connectors.manual:MANUAL_CONNECTOR",
}


class ConnectorPluginError(RightsflowError):
    """A connector plugin could not be loaded or registered; the message names its entry point."""

    code = "connector-plugin-error"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped: its entry point (`name`, `value`) and why (safe to show)."""

    name: str
    value: str
    reason: str


class ConnectorRegistry:
    """Connector specs by kind. Not thread-safe for `register`; build it, then share it.

    `lazy` maps more kinds to the "module:attr" of their spec, imported on first `get` (a
    concurrent first `get` may import twice; the import system makes that safe)."""

    def __init__(
        self, specs: Iterable[AnySpec] = (), lazy: Mapping[str, str] | None = None
    ) -> None:
        self._specs: dict[str, AnySpec] = {}
        self._lazy: dict[str, str] = {}
        self._failures: list[PluginFailure] = []
        for spec in specs:
            self.register(spec)
        for kind, target in (lazy or {}).items():
            self.register_lazy(kind, target)

    def register(self, spec: AnySpec) -> None:
        if not isinstance(spec, ConnectorSpec):
            raise InvalidInput(f"expected a ConnectorSpec, got {type(spec).__name__}")
        if spec.kind in self:
            raise InvalidInput(f"connector kind {spec.kind!r} is already registered")
        self._specs[spec.kind] = spec

    def register_lazy(self, kind: str, target: str) -> None:
        """Register `kind` by where its spec lives ("module:attr"), loaded when first used."""
        validate_kind(kind)
        if kind in self:
            raise InvalidInput(f"connector kind {kind!r} is already registered")
        self._lazy[kind] = target

    def get(self, kind: str) -> AnySpec:
        spec = self._specs.get(kind) if isinstance(kind, str) else None
        if spec is not None:
            return spec
        if isinstance(kind, str) and kind in self._lazy:
            spec = _import_spec(kind, self._lazy[kind])
            self._specs[kind] = spec
            return spec
        known = ", ".join(self.kinds()) or "none"
        raise InvalidInput(
            f"unknown connector kind {str(kind)[:60]!r}; known kinds: {known}",
            field="connector",
        )

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._specs.keys() | self._lazy.keys()))

    def __contains__(self, kind: object) -> bool:
        return kind in self._specs or kind in self._lazy

    def record_failure(self, failure: PluginFailure) -> None:
        self._failures.append(failure)

    def failures(self) -> tuple[PluginFailure, ...]:
        """Plugins that failed to load (only when loaded with `strict=False`)."""
        return tuple(self._failures)

    def validate_config(self, kind: str, config: Mapping[str, Any]) -> list[str]:
        """Problems with `config` for `kind`, as `path: message`; empty when it is valid.

        Messages never echo the values given (a config may hold passwords)."""
        try:
            self.parse_config(kind, config)
        except _ConfigInvalid as exc:
            return exc.messages
        return []

    def parse_config(self, kind: str, config: Mapping[str, Any]) -> BaseModel:
        """The validated config model; raises `InvalidInput` listing every problem."""
        spec = self.get(kind)
        if not isinstance(config, Mapping):
            raise _ConfigInvalid(kind, [f"(root): expected a mapping, got {type(config).__name__}"])
        try:
            model: BaseModel = spec.config_model.model_validate(dict(config))
        except ValidationError as exc:
            raise _ConfigInvalid(kind, _messages(exc)) from None
        return model

    def create(self, kind: str, config: Mapping[str, Any]) -> AnyConnector:
        """A new connector of `kind` for `config` (validated first)."""
        model = self.parse_config(kind, config)
        connector: AnyConnector = self.get(kind).factory(model)
        return connector


class _ConfigInvalid(InvalidInput):
    def __init__(self, kind: str, messages: list[str]) -> None:
        super().__init__(f"invalid config for connector {kind!r}: " + "; ".join(messages))
        self.messages = messages


def _messages(exc: ValidationError) -> list[str]:
    messages = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        text = "field required" if error["type"] == "missing" else error["msg"]
        text = text.removeprefix("Value error, ")
        messages.append(f"{where}: {text[:1].lower()}{text[1:]}")
    return messages


def load_plugins(
    registry: ConnectorRegistry, plugins: Iterable[EntryPoint], *, strict: bool = True
) -> None:
    """Register the spec each entry point loads; raise `ConnectorPluginError` naming a bad one.

    With `strict=False` a bad plugin is recorded in `registry.failures()` and skipped, so a
    command that only reports on plugins (`rightsflow connectors list`) can show every one."""
    for entry_point in plugins:
        try:
            spec = _load_plugin(entry_point, registry)
        except ConnectorPluginError as exc:
            if strict:
                raise
            registry.record_failure(PluginFailure(entry_point.name, entry_point.value, str(exc)))
            continue
        registry.register(spec)


def _load_plugin(entry_point: EntryPoint, registry: ConnectorRegistry) -> AnySpec:
    where = (
        f"connector plugin {entry_point.name!r} ({entry_point.value}, "
        f"entry point group {ENTRY_POINT_GROUP!r})"
    )
    try:
        validate_kind(entry_point.name)
    except InvalidInput as exc:
        raise ConnectorPluginError(f"{where}: {exc}") from None
    try:
        spec = entry_point.load()
    except Exception as exc:
        raise ConnectorPluginError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(spec, ConnectorSpec):
        raise ConnectorPluginError(f"{where} must load a ConnectorSpec, got {type(spec).__name__}")
    if spec.kind != entry_point.name:
        raise ConnectorPluginError(
            f"{where} declares kind {spec.kind!r}; the entry point must be named after its kind"
        )
    if spec.kind in registry:
        raise ConnectorPluginError(f"{where}: connector kind {spec.kind!r} is already registered")
    return spec


def _import_spec(kind: str, target: str) -> AnySpec:
    """The spec at `target` ("module:attr"), checked to be a ConnectorSpec of `kind`."""
    module_name, _, attr = target.partition(":")
    try:
        spec = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConnectorPluginError(
            f"connector {kind!r} ({target}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(spec, ConnectorSpec) or spec.kind != kind:
        raise ConnectorPluginError(f"connector {kind!r} ({target}) is not a ConnectorSpec of it")
    return spec


def builtin_specs() -> tuple[AnySpec, ...]:
    """Every built-in spec, imported now (for listings and tests; a registry loads lazily)."""
    return tuple(_import_spec(kind, target) for kind, target in BUILTINS.items())


def default_registry(
    plugins: Iterable[EntryPoint] | None = None, *, strict: bool = True
) -> ConnectorRegistry:
    """A new registry with the built-ins (loaded on first use) and the installed plugins (or
    `plugins`, if given). `strict=False` skips (and records) plugins that fail to load."""
    registry = ConnectorRegistry(lazy=BUILTINS)
    if plugins is None:
        plugins = entry_points(group=ENTRY_POINT_GROUP)
    load_plugins(registry, plugins, strict=strict)
    return registry
