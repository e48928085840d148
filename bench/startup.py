"""Start-up time: process start to `/readyz` answering 200 for `rightsflow serve` (embedded
default: SQLite app database, Temporal dev server child), and `rightsflow --help`. Prints one
JSON line; asserts nothing.

Measured for this checkout and, when `--baseline DIR` is a source tree (a worktree of another
commit: `git worktree add /tmp/startbase 7102a5d`), for that tree in the same run; both run
their CLI as `python -m rightsflow.cli.main` with PYTHONPATH=TREE/src. Without a baseline tree
the floor is `python -c pass`.

- `help`: `rightsflow --help` (imports of the CLI, nothing else);
- `serve_empty`: `serve` on a data dir that holds only a data map (first start: migrations,
  key database, dev server database);
- `serve_stored`: `serve` on a data dir holding N requests (default 10,000; a tenth failed, so
  still open, the rest closed, each with its data key) after one untimed start, as a restart.
  The requests are written straight into the databases by that tree's own code (`--fill`).
  None is unfinished (received/awaiting/executing): resuming those starts one workflow each,
  which is work done at start but not a cost of starting.

Each is reported as wall seconds (`*_s`) and as CPU seconds of the measured process (`*_cpu_s`;
for serve: its own process up to ready, the dev server child not counted). On a shared machine
the CPU figure moves much less with other load than the wall clock does.

    python bench/startup.py                                  # this checkout, N = 10,000
    python bench/startup.py --baseline /tmp/startbase --requests 100000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.proc_watch import cpu_seconds  # noqa: E402

BATCH = 5_000
READY_TIMEOUT_S = 300.0
CLOSED = ("completed", "completed", "completed", "denied", "expired", "canceled")


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSFLOW_")}
    return env | {"PYTHONPATH": str(tree / "src"), "RIGHTSFLOW_LOG_LEVEL": "warning"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rightsflow.cli.main", *args]


def time_help(tree: Path | None) -> tuple[float, float]:
    """Wall and CPU seconds of `rightsflow --help` (or of `python -c pass` without a tree)."""
    command = _cli("--help") if tree else [sys.executable, "-c", "pass"]
    env = _env(tree) if tree else dict(os.environ)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own server
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def time_serve(tree: Path, data_dir: Path, mapdir: Path) -> tuple[float, float]:
    """Seconds from spawning `serve` to /readyz answering 200, and the CPU seconds its own
    process used by then (the dev server child not counted); the server is stopped after."""
    from rightsflow.workflows.devserver import free_port  # noqa: PLC0415

    port = free_port()
    command = _cli("serve", "--data-dir", str(data_dir), "--datamap", str(mapdir))
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=_env(tree),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not _ready(f"http://127.0.0.1:{port}/readyz"):
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"serve exited with {process.returncode}: {error[-2000:]}")
            if time.perf_counter() - started > READY_TIMEOUT_S:
                raise SystemExit("serve was not ready in time")
            time.sleep(0.02)
        return time.perf_counter() - started, cpu_seconds(process.pid)
    finally:
        process.send_signal(signal.SIGINT)  # stops the dev server child too
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _request(i: int) -> dict[str, Any]:
    received = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    status = "failed" if i % 10 == 0 else CLOSED[i % len(CLOSED)]
    closed = None if status == "failed" else received + timedelta(days=2)
    return {
        "id": f"00000000-0000-4000-8000-{i:012d}", "type": "erasure", "status": status,
        "regime": "gdpr", "policy_key": "default", "received_at": received,
        "due_at": received + timedelta(days=30), "closed_at": closed, "attempt": 1,
        "completed_at": closed if status == "completed" else None,
        "identity_types": ["email"], "sealed_identities": b"x", "created_at": received,
        "updated_at": received, "source": "api",
    }  # fmt: skip


def fill(data_dir: Path, mapdir: Path, count: int) -> None:
    """N requests and their data keys, written by the tree on PYTHONPATH (its own schema)."""
    from rightsflow.bootstrap import kek_provider, open_databases  # noqa: PLC0415
    from rightsflow.config import Settings  # noqa: PLC0415
    from rightsflow.storage.tables import privacy_requests  # noqa: PLC0415

    settings = Settings(data_dir=data_dir, datamap_dir=mapdir)
    engine, keys = open_databases(settings)
    kek_provider(settings, keys)
    for first in range(0, count, BATCH):
        rows = [_request(i) for i in range(first, min(first + BATCH, count))]
        with engine.begin() as conn:
            conn.execute(privacy_requests.insert(), rows)
        keys.adopt((row["id"], os.urandom(60), 1) for row in rows)
    engine.dispose()
    keys.engine.dispose()


def _fresh_dir(root: Path, template: Path, name: str) -> Path:
    target = root / name
    shutil.copytree(template, target)
    return target / "data"


def _stored_dir(tree: Path, template: Path, root: Path, count: int) -> Path:
    """A data dir with `count` requests, started once (untimed) as it would have been."""
    stored = _fresh_dir(root, template, f"{tree.name}-stored")
    subprocess.run(
        [sys.executable, __file__, "--fill", str(stored), "--requests", str(count)],
        env=_env(tree),
        check=True,
    )
    time_serve(tree, stored, template / "map")
    return stored


def measure(trees: list[Path], template: Path, root: Path, args: argparse.Namespace) -> Any:
    """Each measurement of each tree, run after run in turn, so the machine's load (shared
    cores) weighs on every tree alike."""
    times: dict[Path, dict[str, list[float]]] = {tree: {} for tree in trees}
    stored = {tree: _stored_dir(tree, template, root, args.requests) for tree in trees}
    for run in range(args.runs):
        for tree in trees:
            fresh = _fresh_dir(root, template, f"{tree.name}-empty-{run}")
            measured = {
                "help": time_help(tree),
                "serve_empty": time_serve(tree, fresh, template / "map"),
                "serve_stored": time_serve(tree, stored[tree], template / "map"),
            }
            for name, (wall, cpu) in measured.items():
                times[tree].setdefault(f"{name}_s", []).append(wall)
                times[tree].setdefault(f"{name}_cpu_s", []).append(cpu)
    return {tree: {k: _summary(v) for k, v in kinds.items()} for tree, kinds in times.items()}


def _summary(values: list[float]) -> dict[str, Any]:
    """Median, and min: on a loaded machine the least disturbed run is the best estimate."""
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "runs": [round(v, 3) for v in values],
    }


def _template(root: Path) -> Path:
    from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap  # noqa: PLC0415

    template = root / "template"
    create_shop_sqlite(template / "shop.db", customers=100)
    write_shop_datamap(template / "map", template / "shop.db")
    return template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="stored requests (N)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each")
    parser.add_argument("--baseline", type=Path, help="source tree of the baseline commit")
    parser.add_argument("--fill", type=Path, help=argparse.SUPPRESS)  # internal: one data dir
    args = parser.parse_args()
    if args.fill:
        fill(args.fill, args.fill.parent / "map", args.requests)
        return
    with tempfile.TemporaryDirectory(prefix="rf-startup-") as tmp:
        root = Path(tmp)
        (root / "template").mkdir()
        template = _template(root)
        trees = [REPO, *([args.baseline.resolve()] if args.baseline else [])]
        results = measure(trees, template, root, args)
        report: dict[str, Any] = {
            "bench": "startup",
            "requests": args.requests,
            "runs": args.runs,
            "current": results[REPO],
        }
        if args.baseline:
            report["baseline_tree"] = str(args.baseline)
            report["baseline"] = results[args.baseline.resolve()]
        else:
            passes = [time_help(None) for _ in range(args.runs)]
            report["python_pass_s"] = _summary([wall for wall, _ in passes])
            report["python_pass_cpu_s"] = _summary([cpu for _, cpu in passes])
    print(json.dumps(report))


if __name__ == "__main__":
    main()
