"""A load generator that costs little CPU: raw asyncio streams, HTTP/1.1 keep-alive.

Requests are prebuilt bytes; a response is read as its head (up to the blank line) and a body
of Content-Length bytes. Two shapes of run:

- `paced`: an open loop at a target rate over C connections. Each request has an intended
  send time (connection i sends at t0 + i/R, then every C/R s); its latency is measured from
  that time, not from when it went out, so a server that falls behind is charged for the wait
  (no "coordinated omission").
- `closed`: C connections each sending the next request as soon as the last answered, for a
  while: the most the server sustains, and the latency at that load.

`port` may be several ports (API processes): connection i goes to port i % len(ports), and
`requests` is then a mapping port -> that server's requests (a token's audience is one URL).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        wall = max(self.ended - self.started, 1e-9)

        def pct(p: float) -> float:
            return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)

        return {
            "requests": len(ordered),
            "per_s": round(len(ordered) / wall, 1),
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(1000 * ordered[-1], 3),
            "mean_ms": round(1000 * statistics.fmean(ordered), 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


Ports = int | Sequence[int]
Requests = Sequence[bytes] | Mapping[int, Sequence[bytes]]
MakeRequest = Callable[[int, int], bytes]  # (request number, port) -> request


class Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int = 0
    ) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, port)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def request_bytes(
    method: str, path: str, host: str, token: str, body: bytes | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {token}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def connections(host: str, port: Ports, count: int) -> list[Connection]:
    ports = [port] if isinstance(port, int) else list(port)
    return [await Connection.open(host, ports[i % len(ports)]) for i in range(count)]


def _for(requests: Requests, conn: Connection) -> Sequence[bytes]:
    return requests[conn.port] if isinstance(requests, Mapping) else requests


async def paced(
    host: str, port: Ports, requests: Requests, *, rate: float, seconds: float, conns: int
) -> Tally:
    """An open loop at `rate` requests/s for `seconds` (requests drawn at random)."""
    pool = await connections(host, port, conns)
    tally, period = Tally(), conns / rate
    t0 = time.perf_counter() + 0.05

    async def run(i: int, conn: Connection) -> None:
        pick, mine = random.Random(i).choice, _for(requests, conn)  # noqa: S311 (a load pattern)
        due = t0 + i / rate
        while due < t0 + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status, _ = await conn.send(pick(mine))
            tally.add(status, time.perf_counter() - due)
            due += period

    tally.started = t0
    await asyncio.gather(*(run(i, c) for i, c in enumerate(pool)))
    tally.ended = time.perf_counter()
    for conn in pool:
        conn.close()
    return tally


async def closed(
    host: str,
    port: Ports,
    requests: Requests | MakeRequest,
    seconds: float,
    conns: int,
) -> Tally:
    """`conns` connections back to back for `seconds`; a callable gives request number n for
    a port."""
    pool = await connections(host, port, conns)
    tally, counter = Tally(), itertools.count()
    tally.started = time.perf_counter()
    end = tally.started + seconds

    async def run(i: int, conn: Connection) -> None:
        pick = random.Random(i).choice  # noqa: S311 (a load pattern, not a secret)
        while time.perf_counter() < end:
            if callable(requests):
                request = requests(next(counter), conn.port)
            else:
                request = pick(_for(requests, conn))
            start = time.perf_counter()
            status, _ = await conn.send(request)
            tally.add(status, time.perf_counter() - start)

    await asyncio.gather(*(run(i, c) for i, c in enumerate(pool)))
    tally.ended = time.perf_counter()
    for conn in pool:
        conn.close()
    return tally


def own_cpu_seconds() -> float:
    """This process's CPU time (the load generator's own cost)."""
    times = os.times()
    return times.user + times.system
