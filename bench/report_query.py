"""Time and memory of the CCPA report over N requests in a SQLite (or PostgreSQL) app database.

A year of requests (N, default 200,000): a third erasures with a stored plan that keeps one
collection under an exemption and a retrieve result in it, the rest spread over the other
types and statuses. Prints one JSON object; asserts nothing.

    python bench/report_query.py                       # SQLite in a temp dir
    python bench/report_query.py --requests 1000000
    python bench/report_query.py --url postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from rightsflow.services import reports
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import node_results, privacy_requests
from rightsflow.storage.uow import SqlUnitOfWorkFactory

YEAR_START = datetime(2026, 1, 1, 8, tzinfo=UTC)
NOW = datetime(2027, 3, 1, tzinfo=UTC)
TYPES = ("access", "erasure", "rectification", "portability", "opt_out", "limit_use")
STATUSES = ("completed",) * 6 + ("denied", "expired", "canceled", "executing")
PLAN = {"nodes": [{"address": f"shop:t{i}", "action": "mask"} for i in range(20)]
        + [{"address": "shop:invoices", "action": "keep"}]}  # fmt: skip
BATCH = 5_000


def _request(i: int) -> dict[str, Any]:
    received = YEAR_START + timedelta(seconds=(i * 157) % (365 * 86_400))
    status = STATUSES[i % len(STATUSES)]
    kind = "erasure" if i % 3 == 0 else TYPES[i % len(TYPES)]
    closed = received + timedelta(hours=1 + i % 1_000) if status != "executing" else None
    return {
        "id": f"{i:036d}", "type": kind, "status": status, "regime": "ccpa",
        "policy_key": "default", "received_at": received, "due_at": received + timedelta(days=45),
        "completed_at": closed if status == "completed" else None, "closed_at": closed,
        "denial_reason": "exemption_applies" if status == "denied" else None, "attempt": 1,
        "identity_types": ["email"], "sealed_identities": b"x", "created_at": received,
        "updated_at": received, "source": "api", "deadline_notices": None,
        "plan": PLAN if kind == "erasure" else None,
    }  # fmt: skip


def _result(i: int) -> dict[str, Any]:
    return {
        "request_id": f"{i:036d}", "address": "shop:invoices", "phase": "retrieve",
        "status": "done", "rows_found": i % 2, "rows_masked": 0, "rows_deleted": 0,
        "rows_changed": 0, "remaining": 0, "updated_at": NOW,
    }  # fmt: skip


def fill(url: str, count: int) -> float:
    upgrade_database(url)
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        for first in range(0, count, BATCH):
            ids = range(first, min(first + BATCH, count))
            conn.execute(privacy_requests.insert(), [_request(i) for i in ids])
            erasures = [_result(i) for i in ids if i % 3 == 0]
            conn.execute(node_results.insert(), erasures)
    engine.dispose()
    return time.perf_counter() - started


def _report(engine: Engine) -> reports.CcpaReport:
    return reports.ccpa(SqlUnitOfWorkFactory(engine), lambda: NOW, 2026)


def measure(url: str) -> dict[str, Any]:
    """Time first (tracemalloc slows Python down ~2x), then the peak of Python allocations."""
    engine = make_engine(url)
    started = time.perf_counter()
    report = _report(engine)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    _report(engine)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine.dispose()
    total = reports.ccpa_rows(report)[-1]
    return {
        "report_s": round(seconds, 2),
        "requests_per_s": round(int(total["received"] or 0) / seconds),
        "tracemalloc_peak_mib": round(peak / 2**20, 1),
        "received": total["received"],
        "complied_in_part": total["complied_in_part"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--url", help="an empty app database (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'app.db'}"
        fill_s = fill(url, args.requests)
        result = {"requests": args.requests, "backend": url.split(":", 1)[0], **measure(url)}
    print(json.dumps({**result, "fill_s": round(fill_s, 1)}))


if __name__ == "__main__":
    main()
