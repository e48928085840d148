"""The verifications table on SQLite and on a real PostgreSQL server: round trip, replace,
the unit of work's rollback, and a challenge for a request that does not exist."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from rightsflow.domain.errors import NotFound
from rightsflow.domain.verification import Challenge, VerificationPolicy, issue, wrong_guess
from rightsflow.services.verification import CheckOutcome, EmailCodeVerifier
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.uow import SqlUnitOfWork
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.verification_platform import (
    RecordingNotifier,
    add_request,
    verification_platform,
)

T0 = datetime(2026, 2, 28, 23, 30, 15, 250000, tzinfo=UTC)
POLICY = VerificationPolicy()


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        name = f"rf_verif_{uuid.uuid4().hex[:12]}"
        server.create_database(name)
        url = server.url(name)
    upgrade_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def first(request_id: str) -> Challenge:
    return issue(None, request_id, "email_code", "a" * 64, now=T0, policy=POLICY)


def test_round_trip_and_replace(engine: Engine, tmp_path: Path) -> None:
    platform = verification_platform(engine, tmp_path, notifier=None)  # type: ignore[arg-type]
    request = add_request(platform, {"email": "x@example.test"}, T0)
    stored = first(request.id)
    with SqlUnitOfWork(engine) as uow:
        assert uow.verifications.get(request.id) is None
        uow.verifications.put(stored)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.verifications.get(request.id) == stored
        locked = replace(wrong_guess(stored, T0, POLICY), locked_at=T0 + timedelta(seconds=1))
        uow.verifications.put(locked)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        got = uow.verifications.get(request.id)
    assert got == locked
    assert got is not None
    assert got.expires_at is not None
    assert got.expires_at.utcoffset() == timedelta(0)


def test_uncommitted_changes_are_rolled_back(engine: Engine, tmp_path: Path) -> None:
    platform = verification_platform(engine, tmp_path, notifier=None)  # type: ignore[arg-type]
    request = add_request(platform, {"email": "x@example.test"}, T0)
    with SqlUnitOfWork(engine) as uow:
        uow.verifications.put(first(request.id))
    with SqlUnitOfWork(engine) as uow:
        assert uow.verifications.get(request.id) is None


def test_a_challenge_needs_its_request(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow, pytest.raises(NotFound):
        uow.verifications.put(first("no-such-request"))


def test_parallel_wrong_guesses_cannot_get_past_the_limit(engine: Engine, tmp_path: Path) -> None:
    """Ten guesses at once against a limit of 3: each one evaluated is counted (the row is
    locked while it is), so no more than 3 are ever compared with the code. On SQLite a
    concurrent writer fails instead of waiting; that refusal is no guess either."""
    platform = verification_platform(engine, tmp_path, RecordingNotifier())
    request = add_request(platform, {"email": "x@example.test"}, T0)
    verifier = EmailCodeVerifier(max_attempts=3)
    with platform.uow() as uow:
        verifier.start(platform, uow, request, T0)
        uow.commit()
    code = re.findall(r"\b\d{6}\b", platform.notifier.sent[0][2])[0]  # type: ignore[attr-defined]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    barrier = threading.Barrier(10)

    def guess() -> CheckOutcome | None:
        barrier.wait()
        try:
            with platform.uow() as uow:
                outcome = verifier.check(platform, uow, request, wrong, T0)
                uow.commit()
                return outcome
        except OperationalError:  # SQLite: "database is locked"
            return None

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(lambda _: guess(), range(10)))
    assert any(o is not None for o in outcomes)
    with platform.uow() as uow:
        stored = uow.verifications.get(request.id)
        failed = [
            e.detail for e in uow.audit.for_request(request.id) if e.action.endswith("failed")
        ]
    compared = [d["attempts_left"] for d in failed if "attempts_left" in d]
    assert stored is not None
    # Every guess compared with the code was counted once: no two saw the same count.
    assert sorted(compared, reverse=True) == [2, 1, 0][: stored.attempts]
    assert len(compared) == stored.attempts
