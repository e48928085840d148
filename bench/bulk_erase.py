"""Benchmark 3: a bulk erasure of N subjects on a PostgreSQL shop of M customers.

For each chunk size, three disjoint sets of N customers (interleaved, so each sees the same
parts of the tables) are erased:

- `engine`: straight through the chunk engine (`services.bulk_engine.run_chunk`, one call per
  chunk, no Temporal, no app database): read every collection, write in erase order, re-check;
- `job`: through the bulk job's own steps in this process (`bulk_intake.intake` of a CSV file,
  then `bulk_run.begin` / `run_chunk` / `finish` as the workflow's activities call them: sealed
  chunks, outcomes and audit in the SQLite app database), without the Temporal server;
- `baseline`: a hand-written psycopg script doing the same changes (bench/shop_sql.py erase_set:
  `UPDATE ... WHERE customer_id = ANY(%s)` / `customer_email = ANY(%s)`), chunked the same way,
  one commit per chunk, and nothing else (no read, no re-check).

Each set is checked afterwards (no row of those customers holds personal data). The engine's
time is split by what the connector spent reading, writing and re-checking (the rest is the
engine's own Python: lookups, routing, changes). Peak RSS (VmHWM) is reset before each run.
Prints one JSON line; progress on stderr.

    python bench/bulk_erase.py                                  # 1M customers, 100k subjects
    python bench/bulk_erase.py --customers 100000 --subjects 10000 --chunk 1000,5000
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.proc_watch import hwm_kb  # noqa: E402
from bench.shop_sql import ShopDb, email_for, erase_set, left_behind, row_ids  # noqa: E402
from bench.shop_stack import finish, load_shop, log, postgres, workdir, write_datamap  # noqa: E402

from rightsflow.bootstrap import build_runtime  # noqa: E402
from rightsflow.config import Settings  # noqa: E402
from rightsflow.domain.bulk import BulkSubject  # noqa: E402
from rightsflow.domain.connector import Connector, Row, RowChange, Scalar  # noqa: E402
from rightsflow.domain.plan import PlanNode  # noqa: E402
from rightsflow.domain.planner import plan_request  # noqa: E402
from rightsflow.services.bulk_engine import run_chunk  # noqa: E402
from rightsflow.services.platform import Platform  # noqa: E402

RUNS = ("engine", "job", "baseline")


# --------------------------------------------------------------------------- timing


class Timed:
    """A connector whose calls are timed by phase: read, write, recheck."""

    def __init__(self, inner: Connector, spent: dict[str, float]) -> None:
        self.inner, self.spent = inner, spent

    def _add(self, phase: str, start: float) -> None:
        self.spent[phase] = self.spent.get(phase, 0.0) + time.perf_counter() - start

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        pages = self.inner.retrieve_pages(node, lookups, page_size)
        while True:
            start = time.perf_counter()
            page = next(pages, None)
            self._add("read", start)
            if page is None:
                return
            yield page

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        start = time.perf_counter()
        try:
            return self.inner.retrieve(node, lookups)
        finally:
            self._add("recheck", start)

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        start = time.perf_counter()
        try:
            return self.inner.fetch_by_keys(node, keys)
        finally:
            self._add("recheck", start)

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.mask(node, changes)
        finally:
            self._add("write", start)

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.delete(node, keys)
        finally:
            self._add("write", start)


class TimedConnectors:
    def __init__(self, inner: Any, spent: dict[str, float]) -> None:
        self.inner, self.spent = inner, spent

    def for_system(self, system_key: str) -> Any:
        return Timed(self.inner.for_system(system_key), self.spent)

    def system_connector(self, system_key: str) -> Any:
        return self.inner.system_connector(system_key)

    def answers_itself(self, system_key: str) -> bool:
        return bool(self.inner.answers_itself(system_key))


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mib() -> float:
    return round(hwm_kb(os.getpid()) / 1024, 1)


# --------------------------------------------------------------------------- the runs


def chunks_of(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for at in range(0, len(ids), size):
        yield ids[at : at + size]


def run_engine(platform: Platform, ids: Sequence[int], chunk: int, profile: bool) -> dict[str, Any]:
    spent: dict[str, float] = {}
    timed = replace(platform, connectors=TimedConnectors(platform.connectors, spent))
    plan = plan_request(timed.datamap, timed.policies["default_erasure"], ("email",))
    rows = [0]
    failed = 0
    profiler = cProfile.Profile() if profile else None
    reset_peak()
    start = time.perf_counter()
    for n, part in enumerate(chunks_of(ids, chunk)):
        subjects = [BulkSubject(i, {"email": email_for(i)}) for i in part]
        if profiler is not None and n < 3:
            profiler.enable()
        outcomes = run_chunk(
            timed, plan, subjects, on_rows=lambda k: rows.__setitem__(0, rows[0] + k)
        )
        if profiler is not None:
            profiler.disable()
        failed += sum(not o.ok for o in outcomes)
    seconds = time.perf_counter() - start
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        log("engine profile, first 3 chunks (by own time):\n" + out.getvalue())
    connector = sum(spent.values())
    return {
        **rates(len(ids), rows[0], seconds),
        "failed": failed,
        "peak_rss_mib": peak_mib(),
        "time_split_s": {
            **{k: round(v, 2) for k, v in sorted(spent.items())},
            "engine_python": round(seconds - connector, 2),
        },
    }


def run_job(platform: Platform, ids: Sequence[int], chunk: int) -> dict[str, Any]:
    from rightsflow.services import bulk_intake, bulk_run  # noqa: PLC0415 (optional, newer)

    lines = ["email", *(email_for(i) for i in ids)]
    reset_peak()
    start = time.perf_counter()
    new = bulk_intake.NewBulkJob("erase", "csv", "bench", chunk_size=chunk)
    job = bulk_intake.intake(platform, new, lines)
    intake_s = time.perf_counter() - start
    failed = 0
    while pending := bulk_run.begin(platform, job.id, 100):
        for chunk_no in pending:
            failed += bulk_run.run_chunk(platform, job.id, chunk_no, lambda: None).failed
    status = bulk_run.finish(platform, job.id)
    seconds = time.perf_counter() - start
    with platform.uow() as uow:
        done = uow.bulk.get_job(job.id)
    return {
        **rates(len(ids), done.rows_written, seconds),
        "status": status,
        "failed": failed,
        "intake_s": round(intake_s, 2),
        "peak_rss_mib": peak_mib(),
    }


def run_baseline(db: ShopDb, ids: Sequence[int], chunk: int) -> dict[str, Any]:
    reset_peak()
    seconds, rows = erase_set(db, ids, chunk)
    return {**rates(len(ids), rows, seconds), "peak_rss_mib": peak_mib()}


def one(
    name: str, platform: Platform, db: ShopDb, ids: Sequence[int], *, size: int, profile: bool
) -> dict[str, Any]:
    if name == "engine":
        return run_engine(platform, ids, size, profile)
    if name == "job":
        return run_job(platform, ids, size)
    return run_baseline(db, ids, size)


def rates(subjects: int, rows: int, seconds: float) -> dict[str, Any]:
    return {
        "subjects": subjects,
        "rows": rows,
        "seconds": round(seconds, 2),
        "subjects_per_s": round(subjects / seconds, 1),
        "rows_per_s": round(rows / seconds, 1),
    }


def checked(db: ShopDb, ids: Sequence[int], run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run, then count the rows of these customers still holding personal data (all 0)."""
    before = row_ids(db, ids)  # their email-keyed rows, found while the emails are there
    result = run()
    left = left_behind(db, ids, before)
    return {**result, "left_behind": sum(left.values())}


# --------------------------------------------------------------------------- main


def subject_ids(args: argparse.Namespace, run: int, runs: int) -> list[int]:
    """Run `run` of `runs`: every `runs`-th customer from `start + run`, `subjects` of them."""
    ids = [args.start + run + j * runs for j in range(args.subjects)]
    if ids[-1] > args.customers:
        sys.exit(f"{runs} runs of {args.subjects} subjects need {ids[-1]} customers from --start")
    return ids


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000, help="per run")
    parser.add_argument("--chunk", default="1000", help="chunk sizes, comma-separated")
    parser.add_argument("--runs", default=",".join(RUNS), help="which of engine,job,baseline")
    parser.add_argument("--dsn", help="an existing PostgreSQL database for the shop")
    parser.add_argument("--no-load", action="store_true", help="--dsn already holds the shop")
    parser.add_argument("--start", type=int, default=1, help="first customer id used")
    parser.add_argument("--profile", action="store_true", help="cProfile 3 engine chunks")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    return parser.parse_args()


def measure(args: argparse.Namespace, platform: Platform, db: ShopDb) -> dict[str, Any]:
    sizes = [int(c) for c in args.chunk.split(",")]
    wanted = [r for r in RUNS if r in args.runs.split(",")]
    results: dict[str, Any] = {}
    for k, size in enumerate(sizes):
        result = results.setdefault(f"chunk_{size}", {})
        for r, name in enumerate(wanted):
            ids = subject_ids(args, k * len(wanted) + r, len(sizes) * len(wanted))
            log(f"chunk {size}: {name}, {len(ids)} subjects")
            run = functools.partial(one, name, platform, db, ids, size=size, profile=args.profile)
            result[name] = checked(db, ids, run)
            log(json.dumps(result[name]))
        add_ratios(result)
    return results


def main() -> None:
    args = parse()
    work = workdir()
    pg = None if args.dsn else postgres()
    try:
        start = time.perf_counter()
        if args.no_load and args.dsn:
            db = ShopDb("postgres", args.dsn)
        else:
            db = load_shop("postgres", args.customers, work, args.dsn, pg)
        load_s = time.perf_counter() - start
        log(f"shop ready in {load_s:.0f} s")
        runtime = build_runtime(
            Settings(data_dir=work / "data", datamap_dir=write_datamap(work / "datamap", db))
        )
        try:
            results = measure(args, runtime.platform, db)
        finally:
            runtime.close()
        print(json.dumps({
            "benchmark": "bulk_erase",
            "customers": args.customers,
            "subjects_per_run": args.subjects,
            "load_s": round(load_s, 1),
            **results,
        }))  # fmt: skip
    finally:
        if pg is not None:
            pg.stop()
        finish(work, args.keep)


def add_ratios(result: dict[str, Any]) -> None:
    """Throughput of each run over the baseline's (the target is >= 0.5 for the engine)."""
    base = result.get("baseline")
    if not base:
        return
    for name in ("engine", "job"):
        if name in result:
            result[name]["ratio_subjects"] = round(
                result[name]["subjects_per_s"] / base["subjects_per_s"], 3
            )
            result[name]["ratio_rows"] = round(result[name]["rows_per_s"] / base["rows_per_s"], 3)


if __name__ == "__main__":
    main()
