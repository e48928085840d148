"""The audit_log use cases over the in-memory unit of work: paging, filters, verify, lines."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from rightsflow.domain.audit_chain import AuditFilter, event_hash, verify_chain
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import audit, audit_log
from rightsflow.services.platform import Platform
from tests.unit.fakes import make_platform

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RID, OTHER = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def platform() -> Platform:
    platform, _ = make_platform()
    with platform.uow() as uow:
        for i in range(5):
            audit.record(uow, RID, f"step.{i}", T0 + timedelta(hours=i), rows=i)
        audit.record(uow, OTHER, "package.downloaded", T0, actor="bootstrap:owner")
        uow.commit()
    return platform


def test_events_come_a_page_at_a_time_in_id_order(platform: Platform) -> None:
    everything = list(audit_log.events(platform.uow, page_size=2))
    assert [e.id for e in everything] == [1, 2, 3, 4, 5, 6]
    assert verify_chain(everything).intact
    assert audit_log.verify(platform.uow, page_size=4).events == 6
    later = AuditFilter(request_id=RID, since=T0 + timedelta(hours=3))
    assert [e.action for e in audit_log.events(platform.uow, later)] == ["step.3", "step.4"]
    assert [e.id for e in audit_log.page(platform.uow, AuditFilter(), 4, 1)] == [5]


def test_json_lines_carry_what_the_hash_covers(platform: Platform) -> None:
    wanted = AuditFilter(actor="bootstrap:owner")
    lines = list(audit_log.json_lines(audit_log.events(platform.uow, wanted)))
    assert len(lines) == 1
    assert lines[0].endswith("\n")
    event = json.loads(lines[0])
    assert event["at"] == "2026-03-01T12:00:00.000000Z"
    assert (event["id"], event["request_id"], event["detail"]) == (6, OTHER, {})
    stored = next(iter(audit_log.events(platform.uow, wanted)))
    assert event["hash"] == stored.hash == event_hash(stored)


@pytest.mark.parametrize("text", ["yesterday", "2026-03-01T12:00:00", "", "2026-13-01T00:00Z"])
def test_times_need_iso_8601_with_a_zone(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        audit_log.parse_time(text, "since")
    assert refused.value.field == "since"


def test_times_keep_their_zone() -> None:
    parsed = audit_log.parse_time("2026-03-01T14:00:00+02:00", "until")
    assert parsed == T0
