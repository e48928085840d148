"""/api/v1/connectors and /api/v1/systems: what the console needs to offer connector kinds
(with a JSON schema per config, to render forms) and to show the data map's systems.

A system's config may hold URLs and passwords: only its keys are ever returned."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Security
from pydantic import BaseModel, Field

from rightsflow.api.auth import AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep, RegistryDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope

router = APIRouter(
    prefix="/api/v1",
    tags=["connectors"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401),
)


class ConnectorOut(BaseModel):
    kind: str
    capabilities: list[str] = Field(description="Sorted: any of delete, mask, retrieve")
    description: str
    config_schema: dict[str, Any] = Field(
        description="JSON Schema of the `config` mapping a system of this kind takes"
    )


class ConnectorList(BaseModel):
    items: list[ConnectorOut]


class SystemOut(BaseModel):
    key: str
    kind: str = Field(description="The system's connector kind")
    datasets: list[str]
    config_keys: list[str] = Field(description="The config keys set (values are never shown)")


class SystemList(BaseModel):
    items: list[SystemOut]


@router.get("/connectors", summary="Connector kinds, with the JSON schema of their config")
@requires(Scope.DATAMAP_READ)
def list_connectors(registry: RegistryDep) -> ConnectorList:
    items = []
    for kind in registry.kinds():
        spec = registry.get(kind)
        items.append(
            ConnectorOut(
                kind=kind,
                capabilities=sorted(spec.capabilities),
                description=spec.description,
                config_schema=spec.config_model.model_json_schema(),
            )
        )
    return ConnectorList(items=items)


@router.get("/systems", summary="The data map's systems (config keys only, never values)")
@requires(Scope.DATAMAP_READ)
def list_systems(platform: PlatformDep) -> SystemList:
    return SystemList(
        items=[
            SystemOut(
                key=system.key,
                kind=system.connector,
                datasets=list(system.datasets),
                config_keys=sorted(str(key) for key in system.config),
            )
            for system in platform.datamap.systems
        ]
    )
