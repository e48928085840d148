"""Audit appends per second on SQLite: the plain insert of before the hash chain against the
chained append (audit lock, chain head read, insert with the next id, hash), on a trail that
already holds many events. Prints JSON.

    python bench/audit_append.py [--events 2000] [--preload 50000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from rightsflow.domain.records import AuditEvent
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import audit_events
from rightsflow.storage.uow import SqlUnitOfWork

RID = str(uuid.uuid4())


def event(i: int) -> AuditEvent:
    at = datetime.now(UTC)
    return AuditEvent(
        RID,
        "request.status_changed",
        at,
        "system",
        "executing",
        "completed",
        {"rows": i, "ids": ["shop:db.users"]},
    )


def plain(engine: Engine, events: list[AuditEvent]) -> None:
    """What appending was before the chain: one INSERT, the id from the database."""
    with engine.connect() as conn:
        for e in events:
            conn.execute(
                audit_events.insert().values(
                    request_id=e.request_id,
                    action=e.action,
                    at=e.at,
                    actor=e.actor,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    detail=dict(e.detail),
                )
            )
        conn.commit()


def chained(engine: Engine, events: list[AuditEvent]) -> None:
    with SqlUnitOfWork(engine) as uow:
        for e in events:
            uow.audit.append(e)
        uow.commit()


def rate(
    append: Callable[[Engine, list[AuditEvent]], None], engine: Engine, n: int, per: int
) -> float:
    start = time.perf_counter()
    for i in range(0, n, per):
        append(engine, [event(i + j) for j in range(per)])
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--preload", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ways = {"plain": plain, "chained": chained}
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engines = {}
        for name in ways:
            url = f"sqlite:///{Path(tmp) / f'{name}.db'}"
            upgrade_database(url)
            engines[name] = make_engine(url)
            chained(engines[name], [event(i) for i in range(args.preload)])  # a long trail
        # Interleaved rounds, best of each: the machine is shared, so noise only slows down.
        for _ in range(args.rounds):
            for per in (1, 10):
                for name, append in ways.items():
                    key = f"{name}_per_s_{per}_per_tx"
                    measured = rate(append, engines[name], args.events, per)
                    best[key] = max(best.get(key, 0.0), measured)
        for engine in engines.values():
            engine.dispose()
    results: dict[str, float] = {k: round(v) for k, v in best.items()}
    for per in (1, 10):
        key = f"{per}_per_tx"
        ratio = best[f"chained_per_s_{key}"] / best[f"plain_per_s_{key}"]
        results[f"ratio_{key}"] = round(ratio, 3)
    print(json.dumps({"bench": "audit_append", "sqlite": results, **vars(args)}, indent=2))


if __name__ == "__main__":
    main()
