"""Scale-out: the same N erasures with 1, 2 and 4 `rightsflow worker` processes (issue 7, item 4;
item 5's peak RSS of the workers during it).

One Temporal dev server (started here), one PostgreSQL server holding the app database, the key
database and the shop, `rightsflow serve --no-worker` for the API, and W worker processes on the
same task queue. For each W, N erasures for N fresh customers are submitted at once; the result
is requests/s (first submit to last completed_at), errors, receipts and the shop database checked
as in request_throughput.py, and the CPU seconds each process used (utime + stime from /proc),
so the limit shows: on 2 cores, the sum of all processes cannot pass 200 % of one core.

    python bench/worker_scaling.py                        # W = 1, 2, 4; N = 1000
    python bench/worker_scaling.py --workers 1 2 --requests 300

Prints progress on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proc_watch import monitored
from bench.request_throughput import erase_batch
from bench.shop_sql import ShopDb
from bench.shop_stack import (
    Platform,
    common_args,
    finish,
    load_average,
    load_shop,
    log,
    postgres,
    scale_out,
    set_workers,
    watch_postgres,
    workdir,
    write_datamap,
)


def _machine(run: dict[str, Any]) -> dict[str, Any]:
    """CPU of every process together, and grouped, as % of the machine's cores."""
    cpu = run["cpu"]
    wall = float(run["seconds"])
    cores = os.cpu_count() or 1

    def pct(prefix: str) -> float:
        used = sum(float(v["cpu_s"]) for k, v in cpu.items() if k.startswith(prefix))
        return round(100 * used / (wall * cores), 1)

    return {
        "cores": cores,
        "all_pct_of_machine": pct(""),
        "workers_pct_of_machine": pct("worker"),
        "serve_pct_of_machine": pct("serve"),
        "temporal_pct_of_machine": pct("temporal"),
        "postgres_pct_of_machine": pct("postgres"),
    }


def _compact_cpu(cpu: dict[str, Any]) -> dict[str, Any]:
    """Per process; the PostgreSQL backends summed into one entry."""
    out = {k: v for k, v in cpu.items() if not k.startswith("postgres")}
    backends = [v["cpu_s"] for k, v in cpu.items() if k.startswith("postgres")]
    out["postgres (all)"] = {"cpu_s": round(sum(backends), 2)}
    return {k: v for k, v in out.items() if v["cpu_s"] > 0}


async def measure(args: argparse.Namespace, platform: Platform, db: ShopDb) -> Any:
    runs, next_customer = [], 1
    for count in args.workers:
        set_workers(platform, count)
        customers = range(next_customer, next_customer + args.requests)
        log(f"{count} worker(s): {args.requests} erasures at once")
        run = await erase_batch(platform, db, customers, args.timeout)
        log(f"  {run['requests_per_s']} requests/s, errors {run['errors']}")
        run["machine"] = _machine(run)
        run["cpu"] = _compact_cpu(run["cpu"])
        run["peak_rss_mib"] = {
            k: v for k, v in run["peak_rss_mib"].items() if not k.startswith("postgres")
        }
        runs.append({"workers": count, **run})
        log(f"  run: {json.dumps(runs[-1])}")  # kept on stderr if a later run fails
        next_customer = customers.stop
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(parser)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    args = parser.parse_args()
    if len(args.workers) * args.requests > args.customers:
        parser.error("--customers must be at least len(--workers) x --requests")
    work = workdir()
    pg = postgres()  # the app and key databases, and the shop unless --dsn / --target sqlite
    db = load_shop(args.target, args.customers, work, args.dsn, pg)
    mapdir = write_datamap(work / "datamap", db)
    with monitored() as monitor:
        watch_postgres(monitor, pg)
        platform = scale_out(work, mapdir, monitor, pg, args.workers[0])
        try:
            runs = asyncio.run(measure(args, platform, db))
        finally:
            platform.stop()
    report = {
        "bench": "worker_scaling",
        "load_average_at_end": load_average(),
        "customers": args.customers,
        "target": args.target,
        "setup": "PostgreSQL app db, own Temporal dev server, serve --no-worker, W workers",
        "runs": runs,
        "speedup_vs_first": [
            round(r["requests_per_s"] / runs[0]["requests_per_s"], 2) for r in runs
        ],
    }
    print(json.dumps(report))
    finish(work, args.keep)


if __name__ == "__main__":
    main()
