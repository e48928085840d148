"""A request with a plan and stored result pages, for the package tests (fake adapters)."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ACCESS
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.services.platform import Platform
from rightsflow.services.rows import paged, seal_page

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GENERATED = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)

APP_YML = """\
dataset:
  - fides_key: app
    collections:
      - name: users
        fields:
          - name: id
            data_categories: [user.unique_id]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: profile
            fields:
              - name: nickname
                data_categories: [user.name]
              - name: contact
                fields:
                  - name: phone
                    data_categories: [user.contact.phone_number]
          - name: internal_score
            data_categories: [system.operations]
      - name: events
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: user_email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: ip
            data_categories: [user.device.ip_address]
"""

SYSTEMS_YML = """\
systems:
  - key: app
    connector: sql
    datasets: [app]
    config:
      url: sqlite:///unused.db
"""


def app_platform(platform: Platform) -> Platform:
    """`platform` on the app data map, with a clock that always reads GENERATED."""
    datamap = parse_datamap({"app.yml": APP_YML, "systems.yml": SYSTEMS_YML}, env={})
    return replace(platform, datamap=datamap, clock=lambda: GENERATED)


def add_request(platform: Platform, kind: RequestType) -> str:
    """An executing request of `kind`, planned like an access request."""
    rid = str(uuid.uuid4())
    request = PrivacyRequest(
        id=rid,
        type=kind,
        regime="gdpr",
        policy_key=DEFAULT_ACCESS.key,
        status=RequestStatus.EXECUTING,
        received_at=T0,
        due_at=T0 + timedelta(days=30),
        identity_types=("email",),
    )
    plan = plan_request(platform.datamap, DEFAULT_ACCESS, ["email"])
    with platform.uow() as uow:
        uow.requests.add(request, b"unused")
        uow.requests.save_plan(rid, plan.to_dict())
        uow.commit()
    return rid


def store_rows(platform: Platform, rid: str, address: str, rows: list[dict[str, Any]]) -> None:
    with platform.uow() as uow:
        for number, page in enumerate(paged(rows)):
            sealed = seal_page(platform.vault, rid, page)
            uow.results.put_page(rid, address, number, sealed, len(page))
        uow.commit()


def complete(platform: Platform, rid: str) -> None:
    with platform.uow() as uow:
        request = uow.requests.get(rid)
        request.transition(RequestStatus.COMPLETED, T0 + timedelta(hours=1))
        uow.requests.save(request)
        uow.commit()


def stored_zip(platform: Platform, rid: str) -> bytes:
    """The package's plaintext, read below the download (no status check, no audit)."""
    sealed = platform.packages.read(rid)
    assert sealed is not None
    return b"".join(platform.vault.open_stream(rid, sealed))


def entries(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert zipped.testzip() is None
        return {name: zipped.read(name) for name in zipped.namelist()}
