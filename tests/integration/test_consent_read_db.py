"""The consent state query and the read-through cache on SQLite and PostgreSQL: one subject,
many subjects in one query, the latest delivery per system and GPC signal, read-your-writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.bootstrap import Runtime
from rightsflow.services import consent_read
from tests.support.consent_rows import at, put_delivery, put_purpose, put_record, put_state
from tests.support.db_runtime import DB_KINDS, runtime_on

A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture(params=DB_KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_on(request, tmp_path, customers=3, prefix="consent") as runtime:
        put_purpose(runtime.engine, "zz_test_purpose")
        yield runtime


def read(runtime: Runtime, subject_hash: str, regime: str = "gdpr") -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(
        consent_read.current(runtime.platform, subject_hash, regime)
    )
    return parsed


def test_one_subject_and_many_in_one_query(runtime: Runtime) -> None:
    engine = runtime.engine
    put_state(engine, A, "analytics", True, at(1), notice=("banner", 2))
    put_state(engine, A, "advertising", False, at(2), source="gpc", resolution="gpc_overrides")
    put_state(engine, B, "analytics", False, at(3))
    first = put_record(engine, A, at(1), gpc=False)
    second = put_record(engine, A, at(2), gpc=True)
    put_delivery(engine, A, first, system="crm", status="failed", when=at(4))
    put_delivery(engine, A, second, system="crm", status="confirmed", when=at(6))
    put_delivery(engine, A, second, system="ads", status="pending", when=at(5))
    with runtime.platform.uow() as uow:
        one = uow.consent_states.state(A)
        many = uow.consent_states.states([A, B, C, A])
    assert many[A] == one
    assert set(one.purposes) == {"analytics", "advertising"}
    assert one.purposes["advertising"].resolution == "gpc_overrides"
    assert one.purposes["analytics"].notice is not None
    assert one.gpc is not None
    assert (one.gpc.signal, one.gpc.at) == (True, at(2))  # the latest record's signal
    assert [(d.system, d.status) for d in one.systems] == [("ads", "pending"), ("crm", "confirmed")]
    assert set(many[B].purposes) == {"analytics"}
    assert (many[C].purposes, many[C].gpc, many[C].systems, many[C].version) == ({}, None, (), 0)


def test_the_catalogue_gives_defaults_and_a_write_is_seen_after_refresh(runtime: Runtime) -> None:
    platform = runtime.platform
    before = read(runtime, A, "gdpr")
    assert before["purposes"]["zz_test_purpose"] == {
        "granted": False,
        "source": None,
        "notice": None,
        "updated_at": None,
        "default": True,
        "resolution": None,
    }
    assert read(runtime, A, "ccpa")["purposes"]["zz_test_purpose"]["granted"] is True
    put_state(runtime.engine, A, "zz_test_purpose", True, at(10))
    assert read(runtime, A)["purposes"]["zz_test_purpose"]["default"] is True  # cached, as yet
    consent_read.refresh(platform, A)  # what every writer calls after it commits
    after = read(runtime, A)
    assert after["purposes"]["zz_test_purpose"]["granted"] is True
    assert after["version"] > before["version"]


def test_a_slow_reader_cannot_put_an_older_state_back(runtime: Runtime) -> None:
    platform = runtime.platform
    put_state(runtime.engine, A, "analytics", True, at(1))
    with platform.uow() as uow:
        stale = uow.consent_states.state(A)  # a reader read the database here ...
    put_state(runtime.engine, A, "analytics", False, at(2))
    consent_read.refresh(platform, A)  # ... a write committed and refreshed ...
    key = consent_read.cache_key(A)
    platform.consent_cache.put(key, stale.version, consent_read.encode(stale))  # ... it puts
    assert read(runtime, A)["purposes"]["analytics"]["granted"] is False


def test_bulk_reads_are_fresh_from_the_database(runtime: Runtime) -> None:
    put_state(runtime.engine, B, "analytics", True, at(1))
    states = consent_read.current_many(runtime.platform, [A, B], "ccpa")
    assert json.loads(states[B])["purposes"]["analytics"]["source"] == "banner"
    assert json.loads(states[A])["purposes"]["analytics"]["default"] is True


def test_refresh_with_the_writers_unit_of_work_after_its_commit(runtime: Runtime) -> None:
    platform = runtime.platform
    assert read(runtime, A)["purposes"]["analytics"]["default"] is True  # cached: defaults
    with platform.uow() as uow:
        put_state(runtime.engine, A, "analytics", True, at(3))  # committed by "the writer"
        uow.commit()
        consent_read.refresh_with(platform, uow, A)
    assert read(runtime, A)["purposes"]["analytics"]["granted"] is True


def test_a_purpose_added_to_the_catalogue_shows_once_it_is_reloaded(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "zz_new" not in read(runtime, A)["purposes"]
    put_purpose(runtime.engine, "zz_new")
    assert "zz_new" not in read(runtime, A)["purposes"]  # the catalogue held is still fresh
    monkeypatch.setattr(consent_read, "CATALOGUE_TTL", 0.0)
    consent_read.forget_catalogue(runtime.platform)
    assert read(runtime, A)["purposes"]["zz_new"]["default"] is True
    assert read(runtime, A, "ccpa")["purposes"]["zz_new"]["granted"] is True
