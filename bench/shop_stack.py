"""The shop workload behind a running Rightsflow, started the way a user starts it.

Shared by request_latency.py, request_throughput.py and worker_scaling.py:

- `load_shop`: a shop database (a throwaway PostgreSQL from tests/support/postgres.py, an
  existing server through `--dsn`, or a SQLite file) loaded with the workload's generate.py;
- `write_datamap`: the workload's shop.yml plus a systems.yml naming that database;
- `embedded` / `scale_out`: `rightsflow serve` (SQLite app database + the dev server it starts),
  or a Temporal dev server of our own, a PostgreSQL app database, `serve --no-worker` and N
  `rightsflow worker` processes; every one a subprocess whose memory and CPU a `Monitor` reads;
- `Api`: submit and follow privacy requests over HTTP with the admin token.

Linux only (/proc). Progress goes to stderr; the scripts print one JSON line to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench.proc_watch import Monitor
from bench.shop_sql import ShopDb, email_for

REPO = Path(__file__).resolve().parent.parent
WORKLOAD = REPO.parent / "shared" / "workloads" / "shop"
ENV = {
    "RIGHTSFLOW_AUTO_APPROVE": '["*"]',
    "RIGHTSFLOW_RATE_LIMIT_PRINCIPAL": "1000000/minute",
    "RIGHTSFLOW_LOG_LEVEL": "warning",
}
TERMINAL = ("completed", "failed", "canceled")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def postgres() -> Any:
    """A throwaway PostgreSQL server (stopped at exit) from the test support module."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.support.postgres import start_postgres  # noqa: PLC0415 (repo root on the path)

    return start_postgres()


def load_average() -> list[float]:
    """1/5/15-minute load: on a shared machine, other work slows every figure down."""
    return [round(x, 2) for x in os.getloadavg()]


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="rightsflow-bench-"))


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def common_args(parser: argparse.ArgumentParser, customers: int = 10_000) -> None:
    """The shared flags; also makes SIGTERM stop the run as Ctrl-C does, so the processes it
    started are stopped too (a background job ignores SIGINT)."""
    signal.signal(signal.SIGTERM, _interrupt)
    parser.add_argument("--customers", type=int, default=customers)
    parser.add_argument("--target", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--dsn", help="an existing PostgreSQL database for the shop")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")


def finish(work: Path, keep: bool) -> None:
    if keep:
        log(f"work dir (logs, data): {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def load_shop(target: str, customers: int, work: Path, dsn: str | None, pg: Any) -> ShopDb:
    """Generate the shop (PostgreSQL: database `shop` on `pg`, unless `dsn` names one)."""
    generate = [sys.executable, str(WORKLOAD / "generate.py"), "-n", str(customers)]
    if target == "sqlite":
        db = ShopDb("sqlite", str(work / "shop.db"))
        subprocess.run([*generate, "--sqlite", db.where], check=True)
        return db
    if dsn is None:
        pg.create_database("shop")
        dsn = _conninfo(pg.url("shop"))
    log(f"loading {customers} customers into PostgreSQL")
    subprocess.run([*generate, "--dsn", dsn], check=True)
    return ShopDb("postgres", dsn)


def shop_url(db: ShopDb) -> str:
    if db.dialect == "sqlite":
        return f"sqlite:///{db.where}"
    with db.session() as conn:  # a URL from whatever conninfo form `--dsn` used
        info = conn.info
        return (
            f"postgresql+psycopg://{info.user}@{info.host}:{info.port}/{info.dbname}"
            if not info.password
            else f"postgresql+psycopg://{info.user}:{info.password}@{info.host}:{info.port}/"
            f"{info.dbname}"
        )


def write_datamap(mapdir: Path, db: ShopDb) -> Path:
    """shop.yml of the workload and one sql system `shop` reaching `db`."""
    mapdir.mkdir(parents=True, exist_ok=True)
    (mapdir / "shop.yml").write_text((WORKLOAD / "shop.yml").read_text())
    system = {"key": "shop", "connector": "sql", "datasets": ["shop"]}
    systems = {"systems": [{**system, "config": {"url": shop_url(db)}}]}
    (mapdir / "systems.yml").write_text(json.dumps(systems))  # JSON is YAML
    return mapdir


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """A child process with a name; `stop` sends SIGTERM, which `serve` and `worker` handle as
    Ctrl-C (serve stops its dev server), and which is not ignored in background jobs as SIGINT
    is."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def terminate(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def spawn(name: str, argv: Sequence[str], logs: Path, env: dict[str, str]) -> Proc:
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{name}.log"
    with path.open("ab") as out:
        popen = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    log(f"started {name} (pid {popen.pid})")
    return Proc(name, popen, path)


# --------------------------------------------------------------------------- platforms


@dataclass
class Platform:
    base: str
    data_dir: Path
    procs: list[Proc]
    monitor: Monitor
    worker_argv: list[str] = field(default_factory=list)  # scale-out: how to start a worker
    worker_env: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str:
        return (self.data_dir / "admin-token").read_text().strip()

    def by_name(self, prefix: str) -> list[Proc]:
        return [p for p in self.procs if p.name.startswith(prefix)]

    def add(self, proc: Proc) -> None:
        self.procs.append(proc)
        self.monitor.watch(proc.pid, proc.name)

    def stop(self, prefix: str = "") -> None:
        """Stop the processes named so (all by default), the last started first; workers all
        at once (each may take seconds to finish its tasks)."""
        for proc in self.by_name(prefix):
            if proc.name.startswith("worker"):
                proc.terminate()
        for proc in reversed(self.by_name(prefix)):
            proc.stop()
            self.procs.remove(proc)
            self.monitor.forget(proc.pid)

    def wait_ready(self, path: str = "/readyz", timeout: float = 120) -> None:
        """Until `path` answers 200 (/healthz: serve is up, whether or not a worker polls)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                proc.check()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}{path}", timeout=10).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.base}{path} was not 200 after {timeout} s")


def watch_postgres(monitor: Monitor, pg: Any) -> None:
    """Count the throwaway PostgreSQL server (postmaster and its backends) too."""
    if pg is not None:
        pid = int((pg.datadir / "postmaster.pid").read_text().split()[0])
        monitor.watch(pid, "postgres")


def _rightsflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "rightsflow.cli.main", *args]


def embedded(work: Path, mapdir: Path, monitor: Monitor) -> Platform:
    """`rightsflow serve` alone: SQLite app database, its own dev server, its own worker."""
    from rightsflow.workflows.devserver import free_port  # noqa: PLC0415

    data_dir, port = work / "data", free_port()
    serve = ["serve", "--data-dir", str(data_dir), "--datamap", str(mapdir), "--port", str(port)]
    platform = Platform(f"http://127.0.0.1:{port}", data_dir, [], monitor)
    platform.add(spawn("serve", _rightsflow(*serve), work / "logs", ENV))
    platform.wait_ready()
    return platform


def scale_out(work: Path, mapdir: Path, monitor: Monitor, pg: Any, workers: int) -> Platform:
    """Our own Temporal dev server, a PostgreSQL app (and key) database, `serve --no-worker`
    and `workers` worker processes sharing the data dir (master key, admin token)."""
    from rightsflow.workflows.devserver import free_port, temporal_cli_path  # noqa: PLC0415

    data_dir, port, tport = work / "data", free_port(), free_port()
    for name in ("rf_app", "rf_keys"):
        pg.create_database(name)
    env = {
        **ENV,
        "RIGHTSFLOW_DATABASE_URL": pg.url("rf_app").replace("postgresql:", "postgresql+psycopg:"),
        "RIGHTSFLOW_KEY_DATABASE_URL": pg.url("rf_keys").replace(
            "postgresql:", "postgresql+psycopg:"
        ),
    }
    temporal = [str(temporal_cli_path()), "server", "start-dev", "--ip", "127.0.0.1",
                "--port", str(tport), "--headless", "--db-filename", str(work / "temporal.db"),
                "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
                "--log-level", "warn"]  # fmt: skip
    platform = Platform(f"http://127.0.0.1:{port}", data_dir, [], monitor)
    platform.add(spawn("temporal", temporal, work / "logs", {}))
    common = ["--data-dir", str(data_dir), "--datamap", str(mapdir)]
    common += ["--temporal-address", f"127.0.0.1:{tport}"]
    serve = _rightsflow("serve", *common, "--port", str(port), "--no-worker")
    _wait_temporal(platform, tport)
    platform.add(spawn("serve", serve, work / "logs", env))
    platform.wait_ready("/healthz")  # it made the master key and the admin token: workers may start
    platform.worker_env, platform.worker_argv = env, _rightsflow("worker", *common)
    set_workers(platform, workers)
    return platform


def set_workers(platform: Platform, count: int) -> None:
    """Replace the running `rightsflow worker` processes by `count` fresh ones."""
    if len(platform.by_name("worker")) == count:
        return
    platform.stop("worker")
    logs = platform.data_dir.parent / "logs"
    for n in range(1, count + 1):
        platform.add(spawn(f"worker{n}", platform.worker_argv, logs, platform.worker_env))
    platform.wait_ready()
    time.sleep(2)  # every worker polls before the clock starts


def _wait_temporal(platform: Platform, port: int, timeout: float = 60) -> None:
    import socket  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        platform.procs[0].check()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            time.sleep(1)  # the frontend listens a little before the namespace is served
            return
        time.sleep(0.2)
    raise RuntimeError("the Temporal dev server did not listen")


# --------------------------------------------------------------------------- HTTP


class Api:
    """Privacy requests over HTTP with the admin token."""

    def __init__(self, platform: Platform, connections: int = 50) -> None:
        limits = httpx.Limits(max_connections=connections)
        self.http = httpx.AsyncClient(
            base_url=platform.base,
            headers={"Authorization": f"Bearer {platform.token}"},
            limits=limits,
            timeout=120,
        )
        self.gate = asyncio.Semaphore(connections)

    async def close(self) -> None:
        await self.http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, retried on a dropped connection (a keep-alive connection the server
        closed as the request went out); safe, as submits carry an Idempotency-Key."""
        for attempt in range(1, 4):
            try:
                async with self.gate:
                    return await self.http.request(method, path, **kwargs)
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError):
                if attempt == 3:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    async def submit(self, kind: str, customer: int) -> str:
        body = {
            "type": kind,
            "identities": {"email": email_for(customer)},
            "regime": "ccpa",
            "identity_verified": True,
        }
        key = {"Idempotency-Key": f"bench-{kind}-{customer}"}
        answer = await self._send("POST", "/api/v1/privacy-requests", json=body, headers=key)
        if answer.status_code not in (200, 202):  # 200: the replay of a retried submit
            raise RuntimeError(f"submit: HTTP {answer.status_code} {answer.text[:200]}")
        return str(answer.json()["id"])

    async def get(self, path: str) -> dict[str, Any]:
        answer = await self._send("GET", path)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    async def detail(self, request_id: str) -> dict[str, Any]:
        return await self.get(f"/api/v1/privacy-requests/{request_id}")

    async def wait_one(self, request_id: str, poll: float = 0.02) -> dict[str, Any]:
        while True:
            body = await self.detail(request_id)
            if body["status"] in TERMINAL:
                return body
            await asyncio.sleep(poll)

    async def count(self, status: str, kind: str) -> int:
        """Requests of a type in a status, counted through the list's pages."""
        total, cursor = 0, None
        while True:
            query = f"?status={status}&type={kind}&limit=200"
            page = await self.get(f"/api/v1/privacy-requests{query}" + (
                f"&cursor={cursor}" if cursor else ""))  # fmt: skip
            total += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return total

    async def receipt_clean(self, request_id: str) -> bool:
        """Every line of the receipt re-checked clean (or kept by the policy)."""
        receipt = await self.get(f"/api/v1/privacy-requests/{request_id}/receipt")
        lines = receipt["lines"]
        return bool(lines) and all(ln["recheck"] in ("verified", "not needed") for ln in lines)
