"""The console's data map: systems, datasets, collections and references as a graph with each
system's connector health (`/console/datamap`), and forms to add a system, generated from each
connector kind's config JSON schema (`/console/datamap/systems/new/{kind}`).

The data map is a directory of YAML files read when the server starts, and there is no service
that writes it: adding a system here validates the entry exactly as loading the map would (the
connector spec's config model, the system key and dataset bindings) and answers the systems.yml
entry to save, with every secret moved into a `${ENV}` reference (never written to a file or
shown back). Nothing changes on the server, so there is nothing to audit.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

import yaml
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from rightsflow.api.deps import api_deps
from rightsflow.api.web import console_datamap_view as view
from rightsflow.api.web import schema_form
from rightsflow.api.web.console_auth import Operator, OperatorDep, PostingOperatorDep
from rightsflow.api.web.pages import render
from rightsflow.api.web.schema_form import FormField
from rightsflow.connectors.base import AnySpec
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.domain.access import Scope
from rightsflow.domain.datamap import DataMap
from rightsflow.domain.errors import NotFound, RightsflowError

router = APIRouter()

# The same rule as a system key in systems.yml (domain/datamap_parse.py).
_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_NEW = "/datamap/systems/new"


@router.get("/datamap")
async def datamap_page(request: Request, operator: OperatorDep) -> HTMLResponse:
    operator.require(Scope.DATAMAP_READ)
    deps = api_deps(request)
    datamap = deps.platform.datamap
    systems = await view.system_rows(datamap, deps.platform.connectors, deps.registry)
    refs = view.references(datamap)
    return render(
        request,
        "console/datamap.html",
        {
            "operator": operator,
            "section": "datamap",
            "systems": systems,
            "datasets": datamap.datasets,
            "references": refs,
            "graph": view.graph(datamap, systems, refs),
            "can_add": operator.can(Scope.DATAMAP_WRITE),
        },
    )


@router.get(_NEW)
async def connector_kinds(request: Request, operator: OperatorDep) -> HTMLResponse:
    operator.require(Scope.DATAMAP_WRITE)
    registry = api_deps(request).registry
    specs = await asyncio.to_thread(lambda: [_spec_or_none(registry, k) for k in registry.kinds()])
    return render(
        request,
        "console/datamap_kinds.html",
        {
            "operator": operator,
            "section": "datamap",
            "kinds": [spec for spec in specs if spec is not None],
        },
    )


@router.get(_NEW + "/{kind}")
async def new_system_form(request: Request, kind: str, operator: OperatorDep) -> HTMLResponse:
    operator.require(Scope.DATAMAP_WRITE)
    spec = await _spec(request, kind)
    fields = schema_form.with_defaults(_fields(spec))
    return _form_page(request, operator, spec, fields=fields, form={}, errors={})


@router.post(_NEW + "/{kind}")
async def add_system(request: Request, kind: str, operator: PostingOperatorDep) -> HTMLResponse:
    operator.require(Scope.DATAMAP_WRITE)
    spec = await _spec(request, kind)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    fields = _fields(spec)
    key, datasets = form.get("key", "").strip(), _lines(form.get("datasets", ""))
    errors = _system_errors(key, datasets, api_deps(request).platform.datamap)
    config, unreadable = schema_form.config_of(fields, form)
    messages = api_deps(request).registry.validate_config(kind, config)
    problems = schema_form.error_targets(fields, messages)
    errors |= {name: text for name, text in problems.items() if name not in unreadable}
    errors |= unreadable
    if errors:
        shown = schema_form.refill(fields, form, errors)
        return _form_page(
            request, operator, spec, fields=shown, form=form, errors=errors, status_code=422
        )
    redacted = schema_form.redact(fields, config, key)
    entry = {"key": key, "connector": kind, "datasets": datasets, "config": redacted.config}
    return render(
        request,
        "console/datamap_added.html",
        {
            "operator": operator,
            "section": "datamap",
            "kind": kind,
            "key": key,
            "yaml": yaml.safe_dump({"systems": [entry]}, sort_keys=False, allow_unicode=True),
            "env": redacted.env,
        },
    )


def _form_page(
    request: Request,
    operator: Operator,
    spec: AnySpec,
    *,
    fields: tuple[FormField, ...],
    form: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/datamap_new.html",
        {
            "operator": operator,
            "section": "datamap",
            "spec": spec,
            "fields": fields,
            "key": form.get("key", ""),
            "datasets": form.get("datasets", ""),
            "errors": errors,
            # The summary links each message to its field, in the form's order.
            "summary": _summary(fields, errors),
        },
        status_code=status_code,
    )


def _summary(fields: tuple[FormField, ...], errors: Mapping[str, str]) -> list[tuple[str, str]]:
    anchors = {"key": ("form-key", "System key"), "datasets": ("form-datasets", "Datasets")}
    anchors[""] = ("config", "Configuration")  # a message about the config as a whole
    out = [(anchors[n][0], f"{anchors[n][1]}: {errors[n]}") for n in anchors if n in errors]
    for item in schema_form.walk(fields):
        if item.name in errors:
            out.append((item.id, f"{item.label}: {errors[item.name]}"))
    return out


def _fields(spec: AnySpec) -> tuple[FormField, ...]:
    return schema_form.fields_of(spec.config_model.model_json_schema())


async def _spec(request: Request, kind: str) -> AnySpec:
    registry = api_deps(request).registry
    if kind not in registry:
        raise NotFound("no such connector kind")
    return await asyncio.to_thread(registry.get, kind)  # a first use imports its module


def _spec_or_none(registry: ConnectorRegistry, kind: str) -> AnySpec | None:
    try:
        spec: AnySpec = registry.get(kind)
    except RightsflowError:  # a plugin that fails to load is not offered
        return None
    return spec


def _lines(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,]", text) if part.strip()]


def _system_errors(key: str, datasets: list[str], datamap: DataMap) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not _KEY.match(key):
        errors["key"] = "enter a key of letters, digits, _ . or - (at most 100)"
    elif any(system.key == key for system in datamap.systems):
        errors["key"] = "a system with this key already exists"
    bound = {d: s.key for s in datamap.systems for d in s.datasets}
    if not datasets:
        errors["datasets"] = "name at least one dataset"
    elif bad := [d for d in datasets if not _KEY.match(d)]:
        errors["datasets"] = f"{len(bad)} dataset key(s) are not letters, digits, _ . or -"
    elif taken := sorted(d for d in datasets if d in bound):
        errors["datasets"] = "already bound to another system: " + ", ".join(
            f"{d} ({bound[d]})" for d in taken
        )
    return errors
