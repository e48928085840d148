"""A Platform for consent catalogue tests: a real app database (SQLite or PostgreSQL, migrated)
and a clock; the parts the catalogue never reaches are left out rather than faked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.engine import Engine

from rightsflow.domain.audit_chain import AuditFilter, StoredEvent
from rightsflow.services.platform import Platform
from rightsflow.storage.uow import SqlUnitOfWorkFactory


def catalog_platform(engine: Engine) -> Platform:
    unused = cast(Any, None)
    return Platform(
        uow=SqlUnitOfWorkFactory(engine),
        vault=unused,
        packages=unused,
        connectors=unused,
        clock=lambda: datetime.now(UTC),
        datamap=unused,
        policies={},
        signer=unused,
        notifier=unused,
        public_url="http://rightsflow.test",
        operators="ops@example.test",
    )


def audit_events(platform: Platform, action: str | None = None) -> Sequence[StoredEvent]:
    with platform.uow() as uow:
        return uow.audit.search(AuditFilter(action=action), None, 1000)
