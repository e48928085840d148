"""Memory of an access request whose subject has N rows in one table. Prints JSON; not a test.

Two measurements, each at a baseline size (10,000 rows) and at N (1,000,000 by default):
- pipeline: the whole request through the service functions (`run_inline`: plan, retrieve over
  the sql connector on a SQLite target, package, finish) on a SQLite app database;
- package: `package.build` alone, from result pages written straight into the app database
  (what retrieve stores once it writes pages), so the package step is measured on its own.

Each (measurement, size) runs in a fresh child process so one run's leftovers (memory the
allocator keeps) do not count against the next; the parent prints one JSON report. Peak RSS is
the kernel's high-water mark (VmHWM) after resetting it at the start of the measured step;
tracemalloc's peak counts Python allocations only. Run with `--help` for the options.
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.domain.records import NodeResult
from rightsflow.services import execution, package, requests
from rightsflow.services.inline import run_inline
from rightsflow.services.rows import PAGE_ROWS, paged, seal_page
from rightsflow.storage.packages import FilePackageStore

SUBJECT = "subject@example.com"
ADDRESS = "bench:events"
OTHER_ROWS = 1_000  # rows of other people, which must stay out of the package

DATASET_YML = """\
dataset:
  - fides_key: bench
    collections:
      - name: events
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: ip
            data_categories: [user.device.ip_address]
          - name: city
            data_categories: [user.contact.address.city]
          - name: note
            data_categories: [user.name]
          - name: created_at
            data_categories: [system.operations]
"""


def row(i: int, email: str) -> tuple[Any, ...]:
    return (i, email, f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "Zürich",
            f"note {i}, with a comma", "2026-01-01T00:00:00")  # fmt: skip


def make_target(path: Path, n: int) -> None:
    insert = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, email TEXT NOT NULL, ip TEXT, "
            "city TEXT, note TEXT, created_at TEXT)"
        )
        db.executemany(insert, (row(i, SUBJECT) for i in range(n)))
        db.executemany(insert, (row(n + i, f"other{i}@example.com") for i in range(OTHER_ROWS)))
        db.execute("CREATE INDEX ix_events_email ON events (email)")


def make_runtime(root: Path, n: int, *, with_target: bool) -> Runtime:
    target, mapdir = root / "target.db", root / "datamap"
    mapdir.mkdir()
    if with_target:
        make_target(target, n)
    (mapdir / "bench.yml").write_text(DATASET_YML)
    (mapdir / "systems.yml").write_text(
        f"systems:\n  - key: bench\n    connector: sql\n    datasets: [bench]\n"
        f"    config:\n      url: sqlite:///{target}\n"
    )
    return build_runtime(Settings(data_dir=root / "data", datamap_dir=mapdir))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Make VmHWM start again from the current RSS (Linux 4.0+)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")


def measured(step: Any, trace: bool) -> dict[str, Any]:
    reset_peak()
    rss_before = _status_kb("VmRSS")
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    tracemalloc.stop()
    peak = _status_kb("VmHWM")
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mib": round(peak / 1024, 1),
        "rss_growth_mib": round((peak - rss_before) / 1024, 1),
        "tracemalloc_peak_mib": None if traced is None else round(traced / 2**20, 1),
    }


def synthetic_rows(n: int) -> Iterator[dict[str, Any]]:
    keys = ("id", "email", "ip", "city", "note", "created_at")
    for i in range(n):
        yield dict(zip(keys, row(i, SUBJECT), strict=True))


def seed_pages(runtime: Runtime, request_id: str, n: int) -> None:
    """Store the subject's rows as result pages, as a paged retrieve does (not measured)."""
    platform = runtime.platform
    execution.begin(platform, request_id)
    number = 0
    for batch in paged(synthetic_rows(n), PAGE_ROWS * 50):  # 50 pages per transaction
        with platform.uow() as uow:
            for page in paged(batch):
                sealed = seal_page(platform.vault, request_id, page)
                uow.results.put_page(request_id, ADDRESS, number, sealed, len(page))
                number += 1
            uow.commit()
    with platform.uow() as uow:
        uow.results.put(NodeResult(request_id, ADDRESS, "retrieve", rows_found=n))
        uow.commit()


def measure(mode: str, n: int, trace: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rf-bench-") as tmp:
        runtime = make_runtime(Path(tmp), n, with_target=mode == "pipeline")
        try:
            platform = runtime.platform
            new = requests.NewRequest("access", {"email": SUBJECT}, "gdpr")
            request, _ = requests.submit(platform, new)
            rid = request.id
            if mode == "pipeline":
                result = measured(lambda: run_inline(platform, rid), trace)
            else:
                seed_pages(runtime, rid, n)
                result = measured(lambda: package.build(platform, rid), trace)
            built = [e for e in requests.audit_trail(platform, rid) if e.action == "package.built"]
            if not built or built[0].detail["rows"] != n:
                raise RuntimeError("the package does not hold the subject's rows")
            store = platform.packages
            assert isinstance(store, FilePackageStore)
            result |= {
                "rows": n,
                "rows_per_s": round(n / result["seconds"]),
                "package_mib": round(store.path_for(rid).stat().st_size / 2**20, 2),
            }
            return result
        finally:
            runtime.close()


def ratios(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        a, b = small.get(key), large.get(key)
        return round(b / a, 2) if a and b is not None else None

    return {
        "rows": ratio("rows"),
        "peak_rss": ratio("peak_rss_mib"),
        "rss_growth": ratio("rss_growth_mib"),
        "tracemalloc_peak": ratio("tracemalloc_peak_mib"),
    }


def child(mode: str, n: int, trace: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", mode, "--rows", str(n)]
    args += [] if trace else ["--no-tracemalloc"]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} with {n} rows failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="the large run (N)")
    parser.add_argument("--baseline", type=int, default=10_000, help="the small run")
    parser.add_argument("--modes", default="package,pipeline", help="package,pipeline")
    parser.add_argument(
        "--no-tracemalloc",
        dest="trace",
        action="store_false",
        help="RSS only (tracemalloc slows Python down and adds its own memory)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(options.child, options.rows, options.trace)))
        return
    report: dict[str, Any] = {"tracemalloc": options.trace}
    for mode in options.modes.split(","):
        small = child(mode, options.baseline, options.trace)
        large = child(mode, options.rows, options.trace)
        report[mode] = {"baseline": small, "large": large, "ratio": ratios(small, large)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
