"""The console's counts on SQLite and a real PostgreSQL server: current choices per consent
purpose (one grouped query) and the overdue requests (open, past due, soonest due first,
across more than one page of the request list)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rightsflow.bootstrap import Runtime
from rightsflow.domain.console_metrics import ChoiceCounts
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.services import console_metrics
from rightsflow.storage.uow import SqlUnitOfWork
from tests.support.consent_rows import at, put_state
from tests.support.db_runtime import DB_KINDS, runtime_on

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
S = RequestStatus


@pytest.fixture(params=DB_KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_on(request, tmp_path, customers=2, prefix="console") as runtime:
        yield runtime


def test_choice_counts_per_purpose(runtime: Runtime) -> None:
    engine = runtime.engine
    put_state(engine, "a" * 64, "analytics", True, at(1))
    put_state(engine, "b" * 64, "analytics", False, at(2))
    put_state(engine, "c" * 64, "analytics", True, at(3))
    put_state(engine, "a" * 64, "advertising", False, at(4))
    counts = console_metrics.consent_choices(runtime.platform)
    assert dict(counts) == {
        "analytics": ChoiceCounts(granted=2, refused=1),
        "advertising": ChoiceCounts(granted=0, refused=1),
    }
    assert counts["analytics"].opt_out_rate == pytest.approx(1 / 3)


def _request(status: RequestStatus, due_in_days: float) -> PrivacyRequest:
    due = NOW + timedelta(days=due_in_days)
    return PrivacyRequest(
        id=str(uuid.uuid4()),
        type=RequestType.ACCESS,
        regime="gdpr",
        policy_key="default",
        status=status,
        received_at=due - timedelta(days=30),
        due_at=due,
        identity_types=("email",),
    )


def test_overdue_requests_are_open_and_past_due(runtime: Runtime) -> None:
    late = [_request(S.RECEIVED, -d) for d in (1, 5, 9, 2, 7)]
    late += [_request(S.FAILED, -3), _request(S.AWAITING_VERIFICATION, -4)]
    on_time = [_request(S.EXECUTING, 2), _request(S.RECEIVED, 0.5)]
    closed = [_request(s, -6) for s in (S.COMPLETED, S.DENIED, S.CANCELED, S.EXPIRED)]
    with SqlUnitOfWork(runtime.engine) as uow:
        for r in late + on_time + closed:
            uow.requests.add(r, b"sealed")
        uow.commit()
    platform = replace(runtime.platform, clock=lambda: NOW)
    shown, total = console_metrics.overdue(platform, limit=4)
    assert total == len(late)
    expected = sorted(late, key=lambda r: r.due_at)[:4]
    assert [r.id for r in shown] == [r.id for r in expected]
    assert [(NOW - r.due_at).days for r in shown] == [9, 7, 5, 4]
