"""The consent read API under load (issue 8): cached reads, writes, and the database alone.

Starts a redis-server and a PostgreSQL server (tests/support), a Temporal dev server, and
`rightsflow serve --no-worker` on a PostgreSQL app database with `consent_cache_url` set; makes
an OAuth2 client (consent:read, consent:write) and takes a token (what a service would use);
then, over raw keep-alive HTTP/1.1 connections (bench/http_load.py):

1. writes: N subjects' choices through POST /api/v1/consent/{subject} (the ledger; each
   write refreshes the cache), closed loop: writes/s;
2. warm-up: each subject read once;
3. cached reads at `--rate` (open loop, latency from the intended send time): p50/p99;
4. max sustained: rising rates while p99 <= 5 ms and >= 97% of the rate is served, and a
   closed loop (the most the server answers, whatever the latency);
5. the same read runs with `consent_cache_off` (every read from the database), for the ratio.

    python bench/consent_api.py                      # 10,000 subjects, 2,000 reads/s, 10 s runs
    python bench/consent_api.py --subjects 2000 --seconds 5
    python bench/consent_api.py --processes 2        # two API processes, connections spread

Progress on stderr; one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from bench import http_load
from bench.proc_watch import cpu_seconds, cpu_used, monitored
from bench.shop_stack import (
    ENV,
    Platform,
    _rightsflow,
    _wait_temporal,
    finish,
    load_average,
    log,
    postgres,
    spawn,
    workdir,
)

from tests.support.redis_server import start_redis
from tests.support.stack import make_shop

TARGET = {"read_rate": 2000, "read_p99_ms": 5.0, "writes_per_s": 1000}
HOST = "127.0.0.1"
PURPOSES = ("analytics", "personalisation", "advertising")


def psycopg_url(url: str) -> str:
    return url.replace("postgresql:", "postgresql+psycopg:")


def subject(i: int) -> str:
    return f"user_id:bench-{i}"


def start_serve(platform: Platform, common: list[str], port: int, env: dict[str, str]) -> None:
    serve = _rightsflow("serve", *common, "--port", str(port), "--no-worker")
    platform.add(
        spawn(f"serve-{len(platform.procs)}", serve, platform.data_dir.parent / "logs", env)
    )
    platform.wait_ready("/healthz")


def make_client(common: list[str], env: dict[str, str]) -> tuple[str, str]:
    """A client holding consent:read and consent:write: (client_id, secret)."""
    made = subprocess.run(
        [*_rightsflow("clients", "create", "--name", "bench", "--scopes",
                      "consent:read,consent:write", *common[:2])],
        capture_output=True, text=True, check=True, env={**os.environ, **env},
    ).stdout  # fmt: skip
    client_id = re.search(r"client_id:\s+(\S+)", made)
    secret = re.search(r"client_secret:\s+(\S+)", made)
    if client_id is None or secret is None:
        raise RuntimeError("clients create printed no credentials")
    return client_id[1], secret[1]


def access_token(base: str, client: tuple[str, str]) -> str:
    """A token for this server (its audience is the server's URL, so one per port)."""
    answer = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client[0],
              "client_secret": client[1]},
    )  # fmt: skip
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def server_cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def write_request(port: int, token: str, n: int, opt_outs: float = 0.0) -> bytes:
    """Choices for subject n; a share `opt_outs` of them refusals (each refusal of a granted
    purpose starts a propagation workflow: off by default, measured by its own bench)."""
    rng = random.Random(n)  # noqa: S311 (a load pattern, not a secret)
    body = {
        "choices": [{"purpose": p, "granted": rng.random() >= opt_outs} for p in PURPOSES],
        "source": "banner",
    }
    path = f"/api/v1/consent/{subject(n)}"
    return http_load.request_bytes("POST", path, f"{HOST}:{port}", token, json.dumps(body).encode())


async def read_runs(
    port: list[int], reads: dict[int, list[bytes]], args: argparse.Namespace
) -> dict[str, Any]:
    """Warm-up, the paced run at the target rate, rising rates, and a closed loop."""
    warm = await http_load.closed(HOST, port, reads, min(args.seconds, 5), args.connections)
    log(f"  warm-up: {warm.summary()['per_s']}/s")
    at_target = (
        await http_load.paced(
            HOST, port, reads, rate=args.rate, seconds=args.seconds, conns=args.connections
        )
    ).summary()
    log(f"  at {args.rate}/s: p50 {at_target['p50_ms']} ms, p99 {at_target['p99_ms']} ms")
    steps, best = [], None
    for rate in args.steps:
        run = (
            await http_load.paced(
                HOST, port, reads, rate=rate, seconds=args.seconds / 2, conns=args.connections
            )
        ).summary()
        ok = run["p99_ms"] <= TARGET["read_p99_ms"] and run["per_s"] >= 0.97 * rate
        steps.append({"rate": rate, "p50_ms": run["p50_ms"], "p99_ms": run["p99_ms"],
                      "per_s": run["per_s"], "ok": ok})  # fmt: skip
        log(f"  at {rate}/s: p99 {run['p99_ms']} ms, served {run['per_s']}/s")
        if not ok:
            break
        best = rate
    cpu0 = server_cpu(args.serve_pids)
    flat_out = (await http_load.closed(HOST, port, reads, args.seconds, args.connections)).summary()
    flat_out["server_cpu_ms_per_request"] = round(
        1000 * (server_cpu(args.serve_pids) - cpu0) / flat_out["requests"], 3
    )
    log(f"  closed loop: {flat_out['per_s']}/s, p99 {flat_out['p99_ms']} ms")
    return {
        "at_target": at_target,
        "steps": steps,
        "max_rate_p99_ok": best,
        "closed_loop": flat_out,
    }


async def write_run(
    ports: list[int], tokens: dict[int, str], args: argparse.Namespace
) -> dict[str, Any]:
    """Writes back to back for `seconds` (subject k % N); then any subject not yet written is
    seeded (the read runs read every one)."""
    n = args.subjects
    cpu0 = server_cpu(args.serve_pids)
    run = await http_load.closed(
        HOST,
        ports,
        lambda k, port: write_request(port, tokens[port], k % n, args.opt_outs),
        args.seconds,
        args.connections,
    )
    cpu_ms = round(1000 * (server_cpu(args.serve_pids) - cpu0) / len(run.latencies), 3)
    if len(run.latencies) < n:
        await seed_rest(ports[0], tokens[ports[0]], len(run.latencies), n, args.connections)
    return {**run.summary(), "server_cpu_ms_per_request": cpu_ms}


async def seed_rest(port: int, token: str, start: int, end: int, conns: int) -> None:
    pool = await http_load.connections(HOST, port, conns)
    todo = iter(range(start, end))

    async def run(conn: http_load.Connection) -> None:
        for k in todo:
            status, _ = await conn.send(write_request(port, token, k))
            if status >= 300:
                raise RuntimeError(f"a seeding write answered {status}")

    await asyncio.gather(*(run(c) for c in pool))
    for conn in pool:
        conn.close()


def measure_mode(
    platform: Platform, common: list[str], env: dict[str, str], args: argparse.Namespace, mode: str
) -> dict[str, Any]:
    from rightsflow.workflows.devserver import free_port  # noqa: PLC0415

    mode_env = {**env, "RIGHTSFLOW_CONSENT_CACHE_OFF": "true" if mode == "database" else "false"}
    ports: list[int] = []
    for _ in range(args.processes):
        ports.append(free_port())
        platform.base = f"http://{HOST}:{ports[-1]}"
        start_serve(platform, common, ports[-1], mode_env)
    args.serve_pids = [proc.pid for proc in platform.by_name("serve")[-args.processes :]]
    args.client = args.client or make_client(common, mode_env)
    tokens = {port: access_token(f"http://{HOST}:{port}", args.client) for port in ports}
    out: dict[str, Any] = {"processes": args.processes}
    before, started, cpu0 = platform.monitor.cpu(), time.perf_counter(), http_load.own_cpu_seconds()
    if mode == "redis":
        log(f"{mode}: writing {args.subjects} subjects' choices")
        out["writes"] = asyncio.run(write_run(ports, tokens, args))
        log(f"  writes: {out['writes']['per_s']}/s, p99 {out['writes']['p99_ms']} ms")
    reads = {
        port: [
            http_load.request_bytes("GET", f"/api/v1/consent/{subject(i)}", f"{HOST}:{port}", token)
            for i in range(args.subjects)
        ]
        for port, token in tokens.items()
    }
    log(f"{mode}: reads")
    out["reads"] = asyncio.run(read_runs(ports, reads, args))
    wall = time.perf_counter() - started
    out["cpu"] = cpu_used(before, platform.monitor.cpu(), wall)
    out["cpu"]["load_generator"] = {
        "cpu_s": round(http_load.own_cpu_seconds() - cpu0, 2),
        "pct_of_core": round(100 * (http_load.own_cpu_seconds() - cpu0) / wall, 1),
    }
    platform.stop("serve")
    return out


def ratios(cached: dict[str, Any], database: dict[str, Any]) -> dict[str, Any]:
    c, d = cached["reads"], database["reads"]
    return {
        "p50_at_target": round(d["at_target"]["p50_ms"] / c["at_target"]["p50_ms"], 2),
        "p99_at_target": round(d["at_target"]["p99_ms"] / c["at_target"]["p99_ms"], 2),
        "closed_loop_per_s": round(c["closed_loop"]["per_s"] / d["closed_loop"]["per_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=TARGET["read_rate"])
    parser.add_argument("--steps", type=int, nargs="*", default=[2500, 3000, 3500, 4000, 5000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--processes", type=int, default=1, help="API processes (`serve --no-worker` each)"
    )
    parser.add_argument("--modes", nargs="*", default=["redis", "database"])
    parser.add_argument("--opt-outs", type=float, default=0.0, help="share of refusals")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    parser.add_argument(
        "--env",
        nargs="*",
        default=[],
        help="KEY=VALUE for serve, e.g. RIGHTSFLOW_RATE_LIMITS_ENABLED=false",
    )
    args = parser.parse_args()
    args.client = None
    work = workdir()
    pg, redis_server = postgres(), start_redis()
    _db, mapdir = make_shop(work, customers=3)
    from rightsflow.workflows.devserver import free_port, temporal_cli_path  # noqa: PLC0415

    for name in ("rf_app", "rf_keys"):
        pg.create_database(name)
    env = {
        **ENV,
        "RIGHTSFLOW_DATABASE_URL": psycopg_url(pg.url("rf_app")),
        "RIGHTSFLOW_KEY_DATABASE_URL": psycopg_url(pg.url("rf_keys")),
        "RIGHTSFLOW_CONSENT_CACHE_URL": redis_server.url(),
        **dict(pair.split("=", 1) for pair in args.env),
    }
    tport = free_port()
    common = ["--data-dir", str(work / "data"), "--datamap", str(mapdir),
              "--temporal-address", f"{HOST}:{tport}"]  # fmt: skip
    temporal = [str(temporal_cli_path()), "server", "start-dev", "--ip", HOST, "--port",
                str(tport), "--headless", "--db-filename", str(work / "temporal.db"),
                "--log-level", "warn"]  # fmt: skip
    results: dict[str, Any] = {}
    with monitored() as monitor:
        platform = Platform(f"http://{HOST}:0", work / "data", [], monitor)
        try:
            platform.add(spawn("temporal", temporal, work / "logs", {}))
            _wait_temporal(platform, tport)
            pid = int((pg.datadir / "postmaster.pid").read_text().split()[0])
            monitor.watch(pid, "postgres")
            assert redis_server.process is not None
            monitor.watch(redis_server.process.pid, "redis")
            for mode in args.modes:
                results[mode] = measure_mode(platform, common, env, args, mode)
        finally:
            platform.stop()
            redis_server.stop()
            pg.stop()
    report = {
        "bench": "consent_api",
        "load_average_at_end": load_average(),
        "subjects": args.subjects,
        "connections": args.connections,
        "seconds": args.seconds,
        "processes": args.processes,
        "serve_env": args.env,
        "target": TARGET,
        **results,
    }
    if "redis" in results and "database" in results:
        report["database_over_cached"] = ratios(results["redis"], results["database"])
        reads = results["redis"]["reads"]["at_target"]
        report["target_met"] = {
            "reads": reads["p99_ms"] <= TARGET["read_p99_ms"]
            and reads["per_s"] >= 0.97 * args.rate,
            "writes": results["redis"]["writes"]["per_s"] >= TARGET["writes_per_s"],
        }
    print(json.dumps(report))
    finish(work, args.keep)


if __name__ == "__main__":
    main()
