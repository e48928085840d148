"""Erasure throughput on the embedded default (issue 7, item 2; item 5's peak RSS during it).

`rightsflow serve` (SQLite app database, its own Temporal dev server and worker) over the shop
workload; N erasure requests for N distinct customers submitted at once (asyncio + httpx), then
requests/s from the first submit to the last completion (the requests' own completed_at), the
failures, every receipt's re-check, and a direct query of the shop database that no row of an
erased customer still holds their personal data. Baselines in the same run, on other customers
of the same database: a hand-written script erasing one subject at a time (each subject's
statements in one committed transaction), and the same changes as set-based `= ANY(...)`
statements.

    python bench/request_throughput.py                    # N = 100, then 1000
    python bench/request_throughput.py --sizes 200        # one run of 200
    python bench/request_throughput.py --target sqlite

Prints progress on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import shop_sql
from bench.proc_watch import cpu_used, monitored
from bench.shop_stack import (
    Api,
    Platform,
    common_args,
    embedded,
    finish,
    load_average,
    load_shop,
    log,
    postgres,
    watch_postgres,
    workdir,
    write_datamap,
)

PEER_RPS = {100: 1.15, 1000: 0.95}
TARGET_RPS = 30.0


async def _submit_all(api: Api, customers: range) -> tuple[list[str], int]:
    answers = await asyncio.gather(
        *(api.submit("erasure", c) for c in customers), return_exceptions=True
    )
    ids = [a for a in answers if isinstance(a, str)]
    return ids, len(answers) - len(ids)


async def _finished(api: Api) -> int:
    return sum([await api.count(s, "erasure") for s in ("completed", "failed", "canceled")])


async def _wait_finished(api: Api, before: int, count: int, limit_s: float) -> None:
    deadline, last = time.monotonic() + limit_s, -1
    while time.monotonic() < deadline:
        done = await _finished(api) - before
        if done != last:
            log(f"  {done}/{count} finished")
            last = done
        if done >= count:
            return
        await asyncio.sleep(1.0)
    raise RuntimeError(f"not all {count} requests finished within {limit_s} s")


async def _outcomes(api: Api, ids: list[str]) -> tuple[list[dict[str, Any]], int]:
    details = await asyncio.gather(*(api.detail(i) for i in ids))
    done = [d for d in details if d["status"] == "completed"]
    clean = await asyncio.gather(*(api.receipt_clean(d["id"]) for d in done))
    return list(details), sum(1 for c in clean if not c)


async def erase_batch(
    platform: Platform, db: shop_sql.ShopDb, customers: range, limit_s: float
) -> dict[str, Any]:
    """Submit erasures for `customers` at once and follow them to the end; the figures."""
    rows = shop_sql.row_ids(db, customers)
    api = Api(platform)
    try:
        before = await _finished(api)
        platform.monitor.reset_peaks()
        cpu_before = platform.monitor.cpu()
        start_wall, start = time.time(), time.perf_counter()
        ids, refused = await _submit_all(api, customers)
        submitted = time.perf_counter() - start
        log(f"  {len(ids)} accepted in {submitted:.1f} s ({refused} refused)")
        await _wait_finished(api, before, len(ids), limit_s)
        seen_all = time.perf_counter() - start
        cpu = cpu_used(cpu_before, platform.monitor.cpu(), seen_all)
        peaks = platform.monitor.peaks_mib()
        details, unclean = await _outcomes(api, ids)
    finally:
        await api.close()
    completed = [d for d in details if d["status"] == "completed"]
    last = max((datetime.fromisoformat(d["completed_at"]).timestamp() for d in completed),
               default=start_wall + seen_all)  # fmt: skip
    seconds = last - start_wall
    left = shop_sql.left_behind(db, customers, rows)
    return {
        "requests": len(customers),
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(completed) / seconds, 2),
        "submit_s": round(submitted, 2),
        "errors": {
            "http_refused": refused,
            "failed": sum(1 for d in details if d["status"] != "completed"),
            "receipts_not_clean": unclean,
            "rows_left_with_personal_data": sum(left.values()),
        },
        "left_behind_by_table": left,
        "peak_rss_mib": peaks,
        "cpu": cpu,
        "cpu_s_per_request": {k: round(v["cpu_s"] / len(customers), 4) for k, v in cpu.items()},
        "cpu_ceiling_requests_per_s": cpu_ceiling(cpu, len(customers)),
    }


def cpu_ceiling(cpu: dict[str, Any], requests: int) -> dict[str, Any]:
    """Requests/s the CPU allows, from the CPU seconds each request cost (independent of how
    busy the shared machine was): all cores for all processes together, and one core for each
    Python process (the GIL), whichever is lower."""
    cores = os.cpu_count() or 1
    total = sum(float(v["cpu_s"]) for v in cpu.values())
    python = {  # serve and the workers (Temporal is Go, PostgreSQL many processes)
        k: float(v["cpu_s"])
        for k, v in cpu.items()
        if k.startswith(("serve", "worker")) and "/" not in k
    }
    busiest = max(python, key=lambda k: python[k], default=None)
    per_core = requests / python[busiest] if busiest and python[busiest] else None
    machine = requests * cores / total if total else None
    limits = [x for x in (per_core, machine) if x]
    return {
        "machine": round(machine, 1) if machine else None,
        "busiest_python_process": busiest,
        "one_core_for_it": round(per_core, 1) if per_core else None,
        "ceiling": round(min(limits), 1) if limits else None,
    }


def baselines(db: shop_sql.ShopDb, each: range, grouped: range) -> dict[str, Any]:
    """Subjects/s of the hand-written scripts, on other customers than the engine's."""
    one_by_one = shop_sql.erase_each(db, each)
    set_based, _ = shop_sql.erase_set(db, grouped)
    return {
        "one_subject_per_transaction": {
            "seconds": round(one_by_one, 3),
            "subjects_per_s": round(len(each) / one_by_one, 1),
        },
        "set_based_any": {
            "seconds": round(set_based, 3),
            "subjects_per_s": round(len(grouped) / set_based, 1),
        },
    }


def _ratios(run: dict[str, Any], base: dict[str, Any], size: int) -> dict[str, Any]:
    rps = run["requests_per_s"]
    return {
        "vs_one_subject_per_transaction": round(
            rps / base["one_subject_per_transaction"]["subjects_per_s"], 4
        ),
        "vs_set_based": round(rps / base["set_based_any"]["subjects_per_s"], 4),
        "vs_peer": round(rps / PEER_RPS.get(size, PEER_RPS[1000]), 1),
        "target_met": rps >= TARGET_RPS and not any(run["errors"].values()),
    }


async def measure(args: argparse.Namespace, platform: Platform, db: shop_sql.ShopDb) -> Any:
    runs, next_customer = [], 1
    for size in args.sizes:
        engine = range(next_customer, next_customer + size)
        log(f"{size} erasures at once (customers {engine.start}-{engine.stop - 1})")
        run = await erase_batch(platform, db, engine, args.timeout)
        log(f"  {run['requests_per_s']} requests/s, errors {run['errors']}")
        each = range(engine.stop, engine.stop + size)
        grouped = range(each.stop, each.stop + size)
        base = baselines(db, each, grouped)
        runs.append({**run, "baseline": base, "ratios": _ratios(run, base, size)})
        log(f"  run: {json.dumps(runs[-1])}")  # kept on stderr if a later run fails
        next_customer = grouped.stop
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(parser)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    args = parser.parse_args()
    if 3 * sum(args.sizes) > args.customers:
        parser.error("--customers must be at least 3 x the sum of --sizes")
    work = workdir()
    pg = postgres() if args.target == "postgres" and not args.dsn else None
    db = load_shop(args.target, args.customers, work, args.dsn, pg)
    mapdir = write_datamap(work / "datamap", db)
    with monitored() as monitor:
        watch_postgres(monitor, pg)
        platform = embedded(work, mapdir, monitor)
        try:
            runs = asyncio.run(measure(args, platform, db))
        finally:
            platform.stop()
    report = {
        "bench": "request_throughput",
        "load_average_at_end": load_average(),
        "customers": args.customers,
        "target": args.target,
        "setup": "embedded (serve: SQLite app database, dev server, worker in-process)",
        "runs": runs,
    }
    print(json.dumps(report))
    finish(work, args.keep)


if __name__ == "__main__":
    main()
