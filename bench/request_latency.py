"""Single-request latency on the embedded default (issue 7, item 1), and the memory of the
serving process during an access request for a subject with a million rows (item 5).

`rightsflow serve` (SQLite app database, its own Temporal dev server and worker) over the shop
workload (10,000 customers, ~205k rows); K access requests one after the other for distinct
customers, then K erasures for K other customers, each submit -> completed over HTTP. Baseline
in the same run: the same selects / updates done directly with psycopg (sqlite3 for
`--target sqlite`) for one customer at a time.

    python bench/request_latency.py                       # K = 20, 10k customers, PostgreSQL
    python bench/request_latency.py --target sqlite       # the demo's SQLite shop
    python bench/request_latency.py --big-rows 0          # skip the million-row access

Prints progress on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import shop_sql
from bench.proc_watch import Monitor, cpu_used, monitored
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

PEER = {"access_p50_s": 0.79, "erasure_p50_s": 1.37}
TARGET = {"access_p50_s": 0.25, "erasure_p50_s": 0.4}


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 4),
        "p90": round(p90, 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
    }


def _server_seconds(body: dict[str, Any]) -> float:
    done = datetime.fromisoformat(body["completed_at"])
    return (done - datetime.fromisoformat(body["received_at"])).total_seconds()


async def one(api: Api, kind: str, customer: int) -> tuple[float, float]:
    """Client seconds (submit sent -> completed seen, 20 ms polls) and server seconds."""
    start = time.perf_counter()
    body = await api.wait_one(await api.submit(kind, customer))
    client = time.perf_counter() - start
    if body["status"] != "completed":
        raise RuntimeError(f"{kind} request {body['id']} ended {body['status']}")
    return client, _server_seconds(body)


async def sequence(api: Api, kind: str, customers: range) -> dict[str, Any]:
    client, server = [], []
    for customer in customers:
        c, s = await one(api, kind, customer)
        client.append(c)
        server.append(s)
    log(f"{kind}: p50 {statistics.median(client):.3f} s over {len(client)}")
    return {"client_s": summary(client), "server_s": summary(server)}


async def big_access(api: Api, monitor: Monitor, customer: int) -> dict[str, Any]:
    """One access request for the subject with the added rows; peak RSS during it."""
    monitor.reset_peaks()
    before = monitor.cpu()
    start = time.perf_counter()
    body = await api.wait_one(await api.submit("access", customer), poll=0.5)
    seconds = time.perf_counter() - start
    return {
        "status": body["status"],
        "seconds": round(seconds, 1),
        "peak_rss_mib": monitor.peaks_mib(),
        "cpu": cpu_used(before, monitor.cpu(), seconds),
    }


async def measure(args: argparse.Namespace, platform: Platform, db: shop_sql.ShopDb) -> Any:
    k, api = args.k, Api(platform)
    try:
        log("warm-up: one access and one erasure")
        warm = [await one(api, "access", 9999), await one(api, "erasure", 9998)]
        before, start = platform.monitor.cpu(), time.perf_counter()
        access = await sequence(api, "access", range(1, k + 1))
        erasure = await sequence(api, "erasure", range(k + 1, 2 * k + 1))
        cpu = cpu_used(before, platform.monitor.cpu(), time.perf_counter() - start)
        steady_rss = platform.monitor.peaks_mib()
        big = None
        if args.big_rows:
            log(f"adding {args.big_rows} login_events rows to one customer")
            shop_sql.add_login_events(db, 3 * k + 1, args.big_rows)
            big = {"rows": args.big_rows, **await big_access(api, platform.monitor, 3 * k + 1)}
    finally:
        await api.close()
    return warm, access, erasure, cpu, steady_rss, big


def baseline(db: shop_sql.ShopDb, k: int) -> dict[str, Any]:
    """The same statements by hand, one customer at a time on one open connection."""
    with db.session() as conn:
        reads = [
            shop_sql.timed(partial(shop_sql.access_one, db, conn, i), 1)[0] for i in range(1, k + 1)
        ]
        writes = [
            shop_sql.timed(partial(shop_sql.erase_one, db, conn, i), 1)[0]
            for i in range(2 * k + 1, 3 * k + 1)
        ]
    return {"access_s": summary(reads), "erasure_s": summary(writes)}


def report(args: argparse.Namespace, measured: Any, base: dict[str, Any]) -> dict[str, Any]:
    warm, access, erasure, cpu, steady_rss, big = measured
    a50, e50 = access["client_s"]["p50"], erasure["client_s"]["p50"]
    return {
        "bench": "request_latency",
        "load_average_at_end": load_average(),
        "customers": args.customers,
        "target": args.target,
        "k": args.k,
        "warmup_client_s": {"access": round(warm[0][0], 3), "erasure": round(warm[1][0], 3)},
        "access": access,
        "erasure": erasure,
        "baseline": base,
        "overhead_ratio": {
            "access": round(a50 / base["access_s"]["p50"], 1),
            "erasure": round(e50 / base["erasure_s"]["p50"], 1),
        },
        "vs_peer": {
            "access_speedup": round(PEER["access_p50_s"] / a50, 2),
            "erasure_speedup": round(PEER["erasure_p50_s"] / e50, 2),
        },
        "target_met": {
            "access": a50 <= TARGET["access_p50_s"],
            "erasure": e50 <= TARGET["erasure_p50_s"],
        },
        "cpu_during_sequences": cpu,
        "peak_rss_mib": steady_rss,
        "big_access": big,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(parser)
    parser.add_argument("-k", type=int, default=20, help="requests of each type")
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="0: skip")
    args = parser.parse_args()
    if args.customers < 3 * args.k + 1 or args.customers < 9999:
        parser.error("--customers must be at least 9999 (warm-up customers) and 3k + 1")
    work = workdir()
    pg = postgres() if args.target == "postgres" and not args.dsn else None
    db = load_shop(args.target, args.customers, work, args.dsn, pg)
    mapdir = write_datamap(work / "datamap", db)
    with monitored() as monitor:
        watch_postgres(monitor, pg)
        platform = embedded(work, mapdir, monitor)
        try:
            measured = asyncio.run(measure(args, platform, db))
        finally:
            platform.stop()
    log("baseline: the same statements by hand")
    base = baseline(db, args.k)
    print(json.dumps(report(args, measured, base)))
    finish(work, args.keep)


if __name__ == "__main__":
    main()
