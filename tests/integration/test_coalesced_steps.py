"""Concurrent requests' steps on one collection run as one statement, on a real SQLite shop:
each request still gets exactly its own rows, counts, results and audit, and one subject's
failing write fails that request only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.sample.shop import email_for
from rightsflow.services import execution, receipt, requests, write_steps
from rightsflow.services.coalesced_reads import Step, retrieve_many
from rightsflow.services.coalesced_rechecks import recheck_many
from rightsflow.services.coalesced_writes import erase_many
from rightsflow.services.execution import Outline
from rightsflow.services.platform import Platform
from tests.support.stack import make_shop, rows

CUSTOMERS = (3, 5, 8, 13, 21)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Platform, Path]]:
    db, mapdir = make_shop(tmp_path, customers=40)
    runtime = build_runtime(
        Settings(data_dir=tmp_path / "data", datamap_dir=mapdir, auto_approve=["*"])
    )
    try:
        yield runtime.platform, db
    finally:
        runtime.close()


def begun(platform: Platform, customers: tuple[int, ...]) -> dict[int, tuple[str, Outline]]:
    out = {}
    for i in customers:
        new = requests.NewRequest(
            type="erasure", identities={"email": email_for(i)}, regime="gdpr", verified=True
        )
        request, _ = requests.submit(platform, new)
        out[i] = (request.id, execution.begin(platform, request.id))
    return out


def run_together(platform: Platform, started: dict[int, tuple[str, Outline]]) -> list[object]:
    """Every request's reads, wave by wave, then writes, group by group, as shared batches."""
    outline = next(iter(started.values()))[1]
    outcomes: list[object] = []
    for wave in outline.waves:
        for address in wave:
            outcomes += retrieve_many(platform, [Step(rid, address) for rid, _ in started.values()])
    for group in outline.erase_groups:
        for address in group:
            outcomes += erase_many(platform, [Step(rid, address) for rid, _ in started.values()])
    return outcomes


def recheck_together(platform: Platform, started: dict[int, tuple[str, Outline]]) -> dict[int, str]:
    """Each request's re-check problems, every collection re-read in shared statements."""
    outline = next(iter(started.values()))[1]
    steps = [
        (i, Step(rid, a))
        for i, (rid, _) in started.items()
        for g in outline.erase_groups
        for a in g
    ]
    problems = recheck_many(platform, [step for _, step in steps])
    out: dict[int, str] = dict.fromkeys(started, "")
    for (i, _), problem in zip(steps, problems, strict=True):
        assert isinstance(problem, str)
        out[i] += problem
    return out


def own_rows(db: Path, i: int) -> dict[str, int]:
    email = email_for(i)
    queries = {
        "shop:customers": ("SELECT count(*) FROM customers WHERE email = ?", email),
        "shop:login_events": ("SELECT count(*) FROM login_events WHERE customer_email = ?", email),
        "shop:addresses": ("SELECT count(*) FROM addresses WHERE customer_id = ?", i),
        "shop:payment_cards": ("SELECT count(*) FROM payment_cards WHERE customer_id = ?", i),
    }
    return {address: int(rows(db, sql, value)[0][0]) for address, (sql, value) in queries.items()}


def test_each_request_gets_its_own_rows_from_shared_statements(
    shop: tuple[Platform, Path],
) -> None:
    platform, db = shop
    before = {i: own_rows(db, i) for i in CUSTOMERS}
    untouched = rows(db, "SELECT * FROM customers WHERE id NOT IN (3, 5, 8, 13, 21)")
    started = begun(platform, CUSTOMERS)
    outcomes = run_together(platform, started)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    assert recheck_together(platform, started) == dict.fromkeys(CUSTOMERS, "")
    for i, (rid, _) in started.items():
        assert write_steps.recheck(platform, rid) == []  # the one-request path agrees
        assert execution.finish(platform, rid) == "completed"
        with platform.uow() as uow:
            found = {r.address: r.rows_found for r in uow.results.for_request(rid)}
            events = [e for e in uow.audit.for_request(rid) if e.action == "node.retrieved"]
        for address, count in before[i].items():
            assert found[address] == count, (i, address)
        assert {e.detail["batch"] for e in events} == {len(CUSTOMERS)}  # really shared
        assert receipt.build(platform, rid) is not None
        assert (
            rows(db, "SELECT count(*) FROM login_events WHERE customer_email = ?", email_for(i))[0][
                0
            ]
            == 0
        )
    assert rows(db, "SELECT * FROM customers WHERE id NOT IN (3, 5, 8, 13, 21)") == untouched


def test_one_subjects_failing_write_fails_only_that_request(
    shop: tuple[Platform, Path],
) -> None:
    platform, db = shop
    with sqlite3.connect(db) as conn:  # the company database refuses to change customer 8
        conn.execute(
            "CREATE TRIGGER keep_8 BEFORE UPDATE ON customers WHEN old.id = 8 "
            "BEGIN SELECT RAISE(ABORT, 'customer 8 is under legal hold'); END"
        )
    started = begun(platform, CUSTOMERS)
    run_together(platform, started)
    problems = recheck_together(platform, started)
    assert problems.pop(8) == "shop:customers: 1 row(s) still hold targeted data"
    assert problems == dict.fromkeys(problems, "")
    for i, (rid, _) in started.items():
        with platform.uow() as uow:
            erased = {
                r.address: r.status for r in uow.results.for_request(rid) if r.phase == "erase"
            }
        if i == 8:
            assert erased["shop:customers"] == "failed"
        else:
            assert set(erased.values()) == {"done"}, i
            assert write_steps.recheck(platform, rid) == []
    assert rows(db, "SELECT name FROM customers WHERE id = 8")[0][0] != "MASKED"
    assert {r[0] for r in rows(db, "SELECT name FROM customers WHERE id IN (3, 5, 13, 21)")} == {
        "MASKED"
    }


def test_a_retried_batch_changes_nothing_twice(shop: tuple[Platform, Path]) -> None:
    platform, _ = shop
    started = begun(platform, CUSTOMERS[:2])
    first = run_together(platform, started)
    again = run_together(platform, started)
    assert first == again  # results already recorded come back as they are
    for rid, _ in started.values():
        with platform.uow() as uow:
            written = [e for e in uow.audit.for_request(rid) if e.action == "node.written"]
        assert len(written) == len({e.detail["address"] for e in written})
