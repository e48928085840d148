"""Erasure over random relational schemas on SQLite and PostgreSQL (and a few on MariaDB),
checked with direct SQL.

Each example (tests.support.random_schema) creates its schema in a fresh database, fills it,
erases one subject inline and then holds the database and the receipt to what the annotations
and the policy say (tests.support.erasure_checks): the subject's targeted values are gone or
masked as the policy says, kept rows keep their values, no other subject's row changed, every
constraint still holds and the receipt's counts are the counts SQL sees.

The last tests are the minimal reproductions of what these properties found, kept as
regression tests, and a case the platform rightly refuses.
"""

from __future__ import annotations

import re
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from rightsflow.domain.datamap_parse import parse_datamap
from rightsflow.domain.masking import reveal
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ERASURE, Policy
from rightsflow.services.receipt import ReceiptLine
from tests.support.erasure_checks import (
    Expected,
    Outcome,
    Snapshot,
    Target,
    constraint_problems,
    expected,
    fitting_cases,
    load,
    mariadb_target,
    postgres_target,
    run_erasure,
    snapshot,
    sqlite_target,
)
from tests.support.mariadb import MariaDbServer
from tests.support.postgres import PostgresServer
from tests.support.random_schema import (
    DATASET,
    LEGAL_BASES,
    Case,
    Column,
    ErasurePolicy,
    ForeignKey,
    Rule,
    Table,
)

# Bounded, not derandomized: each run explores new cases; a failure is shrunk and replayed.
BOUNDED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_case(case: Case, target: Target, workdir: Path) -> None:
    load(case, target)
    before = snapshot(case, target)
    outcome = run_erasure(case, target, workdir)
    after = snapshot(case, target)
    assert outcome.status == "completed", outcome.failure
    assert outcome.receipt is not None
    assert outcome.receipt.verified, outcome.receipt
    want = expected(case)
    lines = {line.collection.removeprefix(f"{DATASET}:"): line for line in outcome.receipt.lines}
    for table in case.tables:
        mine = {case.key(table.name, r) for r in case.subject_rows(table.name, case.target)}
        others = {k: row for k, row in before[table.name].items() if k not in mine}
        assert {k: after[table.name].get(k) for k in others} == others, table.name
        changed = _check_rows(case, table.name, mine=mine, before=before, after=after,
                              want=want[table.name], outcome=outcome)  # fmt: skip
        _check_line(case, table.name, line=lines.get(table.name), want=want[table.name],
                    mine=mine, changed=changed)  # fmt: skip
    reached = {line.collection for line in outcome.receipt.lines}
    assert not {n["collection"] for n in outcome.receipt.not_reached} & reached
    assert constraint_problems(case, target, after) == []


def _check_rows(
    case: Case,
    table: str,
    *,
    mine: set[tuple[Any, ...]],
    before: Snapshot,
    after: Snapshot,
    want: Expected,
    outcome: Outcome,
) -> int:
    """The subject's rows hold what the erasure must leave; returns how many rows changed."""
    if want.action == "delete":
        assert not mine & set(after[table]), f"{table}: rows of the subject left"
        return 0
    assert mine <= set(after[table]), f"{table}: rows of the subject deleted by a {want.action}"
    spec = case.table(table)
    changed = 0
    for key in mine:
        old, new = before[table][key], after[table][key]
        for column in spec.columns:
            name = column.name
            if name in want.detach:
                assert new[name] is None, f"{table}.{name}: reference not detached"
            elif name in want.targets:
                _check_masked(want.targets[name], column, old[name], new[name], outcome)
            else:
                assert new[name] == old[name], f"{table}.{name}: not targeted but changed"
        changed += old != new
    return changed


def _check_masked(rule: Rule, column: Column, old: Any, new: Any, outcome: Outcome) -> None:
    where = f"{column.name} ({rule.strategy})"
    if old is None or rule.strategy == "null":
        assert new is None, where
        return
    if rule.strategy == "fixed":
        value = rule.value or ""
        pattern = re.escape(value) + ("-[a-z2-7]{13}" if column.unique else "")
        assert re.fullmatch(pattern, new), where
        return
    assert isinstance(new, str), where
    assert new != old, where
    assert column.length is None or len(new) <= column.length, where
    if rule.strategy == "hash":
        assert re.fullmatch("[0-9a-f]+", new), where
    elif rule.strategy == "random":
        assert re.fullmatch("[A-Za-z0-9]+", new), where
    elif rule.strategy == "encrypt":
        assert reveal(new, outcome.keys) == old, where
    else:
        raise AssertionError(f"{where}: not a masking strategy")


def _check_line(
    case: Case,
    table: str,
    *,
    line: ReceiptLine | None,
    want: Expected,
    mine: set[tuple[Any, ...]],
    changed: int,
) -> None:
    if line is None:  # pruned from the plan: nothing to do there
        assert (want.action, want.detach) == ("read", ()), f"{table}: no receipt line"
        assert changed == 0
        return
    assert line.action == want.action, table
    assert line.rows_found == len(mine), table
    assert line.rows_deleted == (len(mine) if want.action == "delete" else 0), table
    assert line.rows_masked == changed, table  # masked or detached: rows written in place
    assert line.rows_updated == 0, table
    written = {f.field: f.strategy for f in line.fields}
    strategies = {name: rule.strategy for name, rule in want.targets.items()}
    if want.action != "delete":  # see test_a_deleted_collection_lists_no_detached_fields
        assert written == strategies | dict.fromkeys(want.detach, "detached"), table
    if want.action == "keep":
        basis = case.table(table).exemption
        assert line.rows_kept == len(mine), table
        assert line.exemption is not None
        assert line.exemption.legal_basis == basis, table


# -- the properties ------------------------------------------------------------------------------


@settings(BOUNDED, max_examples=25)
@given(case=fitting_cases())
def test_erasure_on_sqlite(case: Case) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = sqlite_target(Path(tmp) / "system.db")
        try:
            check_case(case, target, Path(tmp))
        finally:
            target.close()


@pytest.mark.postgres
@settings(BOUNDED, max_examples=10)
@given(case=fitting_cases())
def test_erasure_on_postgres(sql_pg_server: PostgresServer, case: Case) -> None:
    target = postgres_target(sql_pg_server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            check_case(case, target, Path(tmp))
    finally:
        target.close()


@pytest.mark.mariadb
@settings(BOUNDED, max_examples=5)
@given(case=fitting_cases())
def test_erasure_on_mariadb(sql_mariadb_server: MariaDbServer, case: Case) -> None:
    target = mariadb_target(sql_mariadb_server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            check_case(case, target, Path(tmp))
    finally:
        target.close()


# -- what the properties found: minimal reproductions, now regression tests ----------------------

NOTE = Rule("fixed", "MASKED")
NOTES_ONLY = ErasurePolicy(("user.content.private",), (("user.content.private", NOTE),))


NOTE_COLUMN = Column("note", "text", True, 64, False, "note")


def _root(*more: Column, **annotations: Any) -> Table:
    email = Column("email", "text", False, 40, True, "email", True)
    return Table("t0", (Column("id", "integer", False), email, *more), ("id",), **annotations)


def _child(
    name: str, *parents: Table, nullable: bool = False, every: bool = False, **annotations: Any
) -> Table:
    fks = tuple(
        ForeignKey(tuple(f"{p.name}_{k}" for k in p.primary_key), p.name, p.primary_key,
                   nullable, restrict=False, every_column=every)
        for p in parents
    )  # fmt: skip
    columns = [Column("id", "integer", False)]
    columns += [Column(c, "integer", nullable) for fk in fks for c in fk.columns]
    columns += [NOTE_COLUMN]
    return Table(name, tuple(columns), ("id",), fks, **annotations)


def _case(tables: tuple[Table, ...], rows: dict[str, list[dict[str, Any]]], **kw: Any) -> Case:
    """Two subjects: rows of subject 0 have odd ids, rows of subject 1 even ones."""
    owners = {t: [1 - r["id"] % 2 for r in rs] for t, rs in rows.items()}
    return Case(tables, rows, owners, kw.pop("policy", NOTES_ONLY), subjects=2, target=0, **kw)


def _people() -> list[dict[str, Any]]:
    return [{"id": 1, "email": "ada@example.test"}, {"id": 2, "email": "alan@example.test"}]


def _erase(case: Case, tmp_path: Path) -> tuple[Snapshot, Snapshot, Outcome]:
    target = sqlite_target(tmp_path / "system.db")
    try:
        load(case, target)
        before = snapshot(case, target)
        outcome = run_erasure(case, target, tmp_path)
        return before, snapshot(case, target), outcome
    finally:
        target.close()


def _plan_actions(case: Case, policy: Policy = DEFAULT_ERASURE) -> dict[str, str]:
    files = {"gen.yml": case.dataset_yaml(), "systems.yml": case.systems_yaml("sqlite://")}
    plan = plan_request(parse_datamap(files, env={}), policy, ["email"])
    return {n.collection: n.action for n in plan.nodes}


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def stop(*_: object) -> None:
        raise TimeoutError("still planning")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_kept_grandchild_under_a_delete_does_not_hang_the_planner() -> None:
    """delete <- (no annotation) <- keep: the middle table used to flip between delete (it
    follows its parent) and mask (its child keeps rows) forever, and `build_runtime` plans every
    erasure policy, so such a data map hung the platform's start. A deadline guards the suite."""
    root = _root(erasure="delete")
    middle = _child("t1", root)
    kept = _child("t2", middle, erasure="keep", exemption=LEGAL_BASES[0])
    with _deadline(2):
        actions = _plan_actions(_case((root, middle, kept), {}))
    assert actions == {"t0": "mask", "t1": "mask", "t2": "keep"}


def test_what_a_delete_blocked_by_a_kept_row_does_not_depend_on_table_names() -> None:
    """The root's delete is blocked by a kept child (so it masks); whether its other child was
    deleted with it used to depend on whether that child's name sorted before the kept one's."""
    root = _root(erasure="delete")
    kept = _child("t2", root, erasure="keep", exemption=LEGAL_BASES[0])
    before, after = _child("t1", root), _child("t3", root)
    first = _plan_actions(_case((root, before, kept), {}))
    second = _plan_actions(_case((root, kept, after), {}))
    assert (first["t1"], second["t3"]) == ("mask", "mask")  # was ("delete", "mask")


DELETE_NOTES = replace(NOTES_ONLY, by_category=(("user.content.private", Rule("delete")),))


def test_a_delete_rule_in_a_masked_collection_masks_with_null(tmp_path: Path) -> None:
    """`erasure: mask` on the collection, `delete` for its category in the policy: the erase
    step used to raise CannotMask out of run_inline (the request stuck executing). The data
    map's word wins: the rows stay, the value is set to NULL."""
    root = _root(NOTE_COLUMN, erasure="mask")
    rows = {"t0": [{**p, "note": "call me"} for p in _people()]}
    _, after, outcome = _erase(_case((root,), rows, policy=DELETE_NOTES), tmp_path)
    assert outcome.status == "completed", outcome.failure
    assert [r["note"] for r in after["t0"].values()] == [None, "call me"]


def test_a_delete_rule_where_a_kept_row_blocks_the_delete_masks_with_null(
    tmp_path: Path,
) -> None:
    """The policy deletes the root's rows, a kept child blocks that, so the root's rows stay:
    the fields the delete rule names are set to NULL instead (the kept row is untouched)."""
    root = _root(NOTE_COLUMN)
    kept = _child("t1", root, erasure="keep", exemption=LEGAL_BASES[0])
    rows = {"t0": [{**p, "note": "call me"} for p in _people()],
            "t1": [{"id": 11, "t0_id": 1, "note": "invoice"}]}  # fmt: skip
    before, after, outcome = _erase(_case((root, kept), rows, policy=DELETE_NOTES), tmp_path)
    assert outcome.status == "completed", outcome.failure
    assert [r["note"] for r in after["t0"].values()] == [None, "call me"]
    assert after["t1"] == before["t1"]


def test_a_row_linked_only_through_a_deeper_parent_is_erased(tmp_path: Path) -> None:
    """t2 references the root (nullable) and t1. Only the root's keys used to be looked up
    (t2's breadth-first wave is 1): a row whose root reference is NULL was never found, never
    masked, and the receipt still said verified."""
    root = _root()
    t1 = _child("t1", root)
    t2 = _child("t2", root, t1, nullable=True)
    rows = {
        "t0": _people(),
        "t1": [{"id": 11, "t0_id": 1, "note": None}],
        "t2": [{"id": 21, "t0_id": None, "t1_id": 11, "note": "ring the bell"}],
    }
    _, after, outcome = _erase(_case((root, t1, t2), rows), tmp_path)
    assert outcome.receipt is not None
    assert outcome.receipt.verified
    assert after["t2"][(21,)]["note"] == "MASKED"


def test_a_row_linked_only_through_a_parent_further_from_the_identity_is_erased(
    tmp_path: Path,
) -> None:
    """t3 references the root (nullable) and t2, two hops further from it. Breadth-first,
    t3 is one hop from the root, so the reference from t2 "points back" and is dropped: a row
    whose root reference is NULL is never found or masked, and the receipt says verified."""
    root = _root()
    t1 = _child("t1", root)
    t2 = _child("t2", t1)
    t3 = _child("t3", root, t2, nullable=True)
    rows = {
        "t0": _people(),
        "t1": [{"id": 11, "t0_id": 1, "note": None}],
        "t2": [{"id": 21, "t1_id": 11, "note": None}],
        "t3": [{"id": 31, "t0_id": None, "t2_id": 21, "note": "ring the bell"}],
    }
    _, after, outcome = _erase(_case((root, t1, t2, t3), rows), tmp_path)
    assert outcome.receipt is not None
    assert outcome.receipt.verified
    assert after["t3"][(31,)]["note"] == "MASKED"


def test_references_on_every_column_of_a_composite_key_reach_only_the_subject(
    tmp_path: Path,
) -> None:
    """t2 -> t1 (id, part), with a reference on both columns: the lookup used to be `t1_id IN
    (..) OR t1_part IN (..)`, so another subject's row sharing only `part` was erased too."""
    root = _root()
    t1 = replace(_child("t1", root), primary_key=("id", "part"))
    t1 = replace(t1, columns=(*t1.columns, Column("part", "integer", False)))
    t2 = _child("t2", t1, every=True)
    rows = {
        "t0": _people(),
        "t1": [{"id": 11, "part": 1, "t0_id": 1}, {"id": 12, "part": 1, "t0_id": 2}],
        "t2": [{"id": 21, "t1_id": 11, "t1_part": 1, "note": "mine"},
               {"id": 22, "t1_id": 12, "t1_part": 1, "note": "not mine"}],
    }  # fmt: skip
    _, after, _ = _erase(_case((root, t1, t2), rows), tmp_path)
    assert after["t2"][(21,)]["note"] == "MASKED"
    assert after["t2"][(22,)]["note"] == "not mine"


def test_the_receipt_counts_rows_whose_reference_was_detached(tmp_path: Path) -> None:
    """The root's rows are deleted; t1 holds no targeted data and detaches: its two rows of
    the subject are written (reference set to NULL), which its receipt line used not to count."""
    root = _root(NOTE_COLUMN, erasure="delete")
    t1 = _child("t1", root, nullable=True, on_parent_erase="detach")
    t1 = replace(t1, columns=t1.columns[:-1])  # no personal data
    people = [{**p, "note": "call me"} for p in _people()]
    rows = {"t0": people, "t1": [{"id": 11, "t0_id": 1}, {"id": 13, "t0_id": 1}]}
    _, after, outcome = _erase(_case((root, t1), rows), tmp_path)
    assert [r["t0_id"] for r in after["t1"].values()] == [None, None]
    assert outcome.receipt is not None
    line = next(ln for ln in outcome.receipt.lines if ln.collection == f"{DATASET}:t1")
    assert (line.action, line.rows_masked) == ("read", 2)


def test_a_deleted_collection_lists_no_detached_fields(tmp_path: Path) -> None:
    """t1 detaches from the root but is deleted in its own right: its rows go, nothing is set
    to NULL, yet its receipt line lists `t0_id` as detached."""
    root = _root(NOTE_COLUMN, erasure="delete")
    t1 = _child("t1", root, nullable=True, erasure="delete", on_parent_erase="detach")
    rows = {"t0": [{**p, "note": "call me"} for p in _people()],
            "t1": [{"id": 11, "t0_id": 1, "note": "bye"}]}  # fmt: skip
    _, after, outcome = _erase(_case((root, t1), rows), tmp_path)
    assert after["t1"] == {}
    assert outcome.receipt is not None
    line = next(ln for ln in outcome.receipt.lines if ln.collection == f"{DATASET}:t1")
    assert (line.action, line.rows_deleted) == ("delete", 1)
    assert line.fields == ()
