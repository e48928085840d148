"""GraphQL types of the data map (systems, datasets, collections; config never shown), the
consent purpose catalogue, a subject's current consent state and a recorded consent write."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from rightsflow.api.rest import consent_catalog as rest_catalog
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.domain.consent import Purpose
from rightsflow.domain.datamap import DataMap, System
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import consent


@strawberry.type(name="Collection")
class CollectionOut:
    address: str = strawberry.field(description="dataset:collection")
    name: str
    fields: int = strawberry.field(description="How many fields the data map describes")
    categories: list[str] = strawberry.field(description="Data categories of its fields")


@strawberry.type(name="Dataset")
class DatasetOut:
    key: str
    collections: list[CollectionOut]


@strawberry.type(name="System")
class SystemOut:
    key: str
    kind: str = strawberry.field(description="Its connector kind")
    capabilities: list[str] = strawberry.field(description="What its connector can do")
    datasets: list[DatasetOut]

    @classmethod
    def of(cls, system: System, datamap: DataMap, registry: ConnectorRegistry) -> SystemOut:
        try:
            capabilities = sorted(registry.get(system.connector).capabilities)
        except InvalidInput:
            capabilities = []  # a kind no longer installed: shown, with nothing it can do
        datasets = [d for d in datamap.datasets if d.key in system.datasets]
        return cls(
            key=system.key,
            kind=system.connector,
            capabilities=capabilities,
            datasets=[
                DatasetOut(
                    key=d.key,
                    collections=[
                        CollectionOut(
                            address=c.address,
                            name=c.name,
                            fields=len(c.fields),
                            categories=sorted({k for f in c.fields for k in f.categories}),
                        )
                        for c in d.collections
                    ],
                )
                for d in datasets
            ],
        )


@strawberry.type(name="Purpose")
class PurposeOut:
    key: str
    name: str
    description: str
    legal_bases: JSON = strawberry.field(description="Regime -> legal basis")
    default_basis: str
    gpc: bool = strawberry.field(description="A GPC signal opts the person out of it")
    essential: bool
    retired: bool

    @classmethod
    def of(cls, purpose: Purpose) -> PurposeOut:
        """As REST maps it (GET /api/v1/consent/purposes)."""
        return cls(**rest_catalog.PurposeOut.of(purpose).model_dump())


@strawberry.type(name="PurposeConsent")
class PurposeConsentOut:
    purpose: str
    granted: bool
    default: bool = strawberry.field(description="No choice was made: the regime's default")
    source: str | None
    updated_at: datetime | None
    resolution: str | None = strawberry.field(description="Why it differs from what was asked")


@strawberry.type(name="ConsentState")
class ConsentStateOut:
    regime: str
    version: str = strawberry.field(
        description="Grows with every change of this state (digits: beyond GraphQL's Int)"
    )
    gpc: bool = strawberry.field(description="The latest write carried a GPC signal")
    purposes: list[PurposeConsentOut]

    @classmethod
    def of(cls, document: bytes) -> ConsentStateOut:
        """From the read API's JSON document (services/consent_read.py), the same bytes REST
        answers, so both APIs show one state."""
        state: dict[str, Any] = json.loads(document)
        gpc = state.get("gpc") or {}
        return cls(
            regime=str(state["regime"]),
            version=str(state.get("version") or 0),
            gpc=bool(gpc.get("signal", False)),
            purposes=[
                PurposeConsentOut(
                    purpose=key,
                    granted=bool(p["granted"]),
                    default=bool(p.get("default", False)),
                    source=p.get("source"),
                    updated_at=_time(p.get("updated_at")),
                    resolution=p.get("resolution"),
                )
                for key, p in sorted(state.get("purposes", {}).items())
            ],
        )


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@strawberry.type(name="ConsentEntry")
class ConsentEntryOut:
    purpose: str
    granted: bool = strawberry.field(description="What was asked")
    effective: bool = strawberry.field(description="What the state became")
    resolution: str | None


@strawberry.type(name="ConsentRecorded")
class ConsentRecordedOut:
    id: str
    recorded_at: datetime
    entries: list[ConsentEntryOut]
    withdrawn: list[str] = strawberry.field(description="Purposes whose withdrawal is propagated")

    @classmethod
    def of(cls, outcome: consent.RecordOutcome) -> ConsentRecordedOut:
        return cls(
            id=outcome.record_id,
            recorded_at=outcome.recorded_at,
            entries=[
                ConsentEntryOut(
                    purpose=e.purpose,
                    granted=e.granted,
                    effective=e.effective,
                    resolution=e.resolution,
                )
                for e in outcome.entries
            ],
            withdrawn=list(outcome.withdrawn),
        )
