"""A Platform for verification tests: a real SQLite app database, a real FileVault and any
notifier; the parts verification never reaches are left out rather than faked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy.engine import Engine

from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.services.platform import Platform
from rightsflow.services.ports import Notifier
from rightsflow.services.subject import Subject, seal_subject
from rightsflow.storage.uow import SqlUnitOfWorkFactory
from rightsflow.storage.vault import FileVault


@dataclass
class RecordingNotifier:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append((to, subject, body))


def verification_platform(engine: Engine, vault_dir: Path, notifier: Notifier) -> Platform:
    unused = cast(Any, None)
    return Platform(
        uow=SqlUnitOfWorkFactory(engine),
        vault=FileVault(vault_dir / "secret.key"),
        packages=unused,
        connectors=unused,
        clock=unused,
        datamap=unused,
        policies={},
        signer=unused,
        notifier=notifier,
        public_url="http://rightsflow.test",
        operators="ops@example.test",
    )


def add_request(
    platform: Platform, identities: dict[str, str], received_at: datetime
) -> PrivacyRequest:
    """A stored request awaiting verification, with these identities sealed."""
    request = PrivacyRequest(
        id=str(uuid.uuid4()),
        type=RequestType.ACCESS,
        regime="ccpa",
        policy_key="default_access",
        status=RequestStatus.AWAITING_VERIFICATION,
        received_at=received_at,
        due_at=received_at + timedelta(days=45),
        identity_types=tuple(sorted(identities)),
    )
    sealed = seal_subject(platform.vault, request.id, Subject(identities))
    with platform.uow() as uow:
        uow.requests.add(request, sealed)
        uow.commit()
    return request
