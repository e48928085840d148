"""Retention sweep throughput on the shop workload (PostgreSQL): `login_events` rows older than
the median `ts` are deleted by a retention rule (`target: shop.login_events, age_field: ts`),
through `services.sweeps` in this process exactly as the workflow's activities call it
(begin: count; chunks of `--chunk` rows read by key and deleted through the connector; report
and audit in the SQLite app database), without the Temporal server.

Baseline, in the same run: a hand-written `DELETE FROM ... WHERE ts < cutoff` (one statement,
one commit) on an identical copy of the table made before the sweep. Both delete the same
rows (checked). Prints one JSON line; progress on stderr.

    python bench/retention_sweep.py                       # 10,000 customers (~50k login events)
    python bench/retention_sweep.py --customers 100000 --chunk 5000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.shop_stack import (  # noqa: E402
    common_args,
    finish,
    load_average,
    load_shop,
    log,
    postgres,
    workdir,
    write_datamap,
)

from rightsflow.bootstrap import build_runtime  # noqa: E402
from rightsflow.config import Settings  # noqa: E402
from rightsflow.services import sweeps  # noqa: E402
from rightsflow.services.sweep_plan import rule_for  # noqa: E402
from rightsflow.storage.sweep_repository import sweep_transactions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    common_args(parser)
    parser.add_argument("--chunk", type=int, default=sweeps.DEFAULT_CHUNK)
    args = parser.parse_args()
    if args.target != "postgres":
        parser.error("this benchmark runs on PostgreSQL")
    work = workdir()
    pg = postgres() if args.dsn is None else None
    try:
        db = load_shop("postgres", args.customers, work, args.dsn, pg)
        with db.session() as conn:
            median = conn.execute(
                "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ts) FROM login_events"
            ).fetchone()[0]
            conn.execute("DROP TABLE IF EXISTS login_events_baseline")
            conn.execute("CREATE TABLE login_events_baseline (LIKE login_events INCLUDING ALL)")
            conn.execute("INSERT INTO login_events_baseline SELECT * FROM login_events")
            conn.commit()
        days = math.ceil((datetime.now(UTC) - median).total_seconds() / 86400)
        mapdir = write_datamap(work / "datamap", db)
        (mapdir / "retention.yml").write_text(
            "retention:\n  - {key: old_logins, target: shop.login_events, age_field: ts,"
            f" max_age: {days} days}}\n"
        )
        result = {"customers": args.customers, "chunk": args.chunk, **sweep(work, mapdir, args)}
        result["baseline"] = baseline(db, result.pop("cutoff"))
        result["sweep_vs_baseline"] = round(
            result["sweep"]["rows_per_s"] / result["baseline"]["rows_per_s"], 3
        )
        if result["baseline"]["rows"] != result["sweep"]["rows"]:
            raise SystemExit("the sweep and the baseline deleted different row counts")
        result["load_average"] = load_average()
        print(json.dumps(result), flush=True)
    finally:
        if pg is not None:
            pg.stop()
        finish(work, args.keep)


def sweep(work: Path, mapdir: Path, args: argparse.Namespace) -> dict[str, object]:
    runtime = build_runtime(Settings(data_dir=work / "data", datamap_dir=mapdir))
    try:
        service = sweeps.Sweeps(
            runtime.platform, sweep_transactions(runtime.platform.uow), chunk_size=args.chunk
        )
        rule = rule_for(runtime.platform, "old_logins")
        log("sweeping")
        started = time.perf_counter()
        run = sweeps.begin(service, rule, dry_run=False, actor="bench")
        counted = time.perf_counter() - started
        chunks = 0
        while run.pending is not None:
            run = sweeps.chunk(service, run.id)
            chunks += 1
        run = sweeps.finish(service, run.id)
        seconds = time.perf_counter() - started
    finally:
        runtime.close()
    rows = run.totals["deleted"]
    return {
        "cutoff": run.cutoff,
        "sweep": {
            "rows": rows,
            "matched": run.totals["matched"],
            "chunks": chunks,
            "count_s": round(counted, 3),
            "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds),
        },
    }


def baseline(db: object, cutoff: datetime) -> dict[str, object]:
    log("baseline DELETE")
    with db.session() as conn:  # type: ignore[attr-defined]
        started = time.perf_counter()
        deleted = conn.execute(
            "DELETE FROM login_events_baseline WHERE ts < %s", (cutoff,)
        ).rowcount
        conn.commit()
        seconds = time.perf_counter() - started
    return {"rows": deleted, "seconds": round(seconds, 3), "rows_per_s": round(deleted / seconds)}


if __name__ == "__main__":
    main()
