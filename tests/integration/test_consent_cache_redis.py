"""The consent cache in a real redis-server: put only replaces an older version, read-your-
writes through refresh, reads stay correct with Redis down, and a Redis that comes back (or
wakes up) never serves a document older than a write that returned."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.services import consent_read
from rightsflow.storage.consent_cache_redis import RedisConsentCache
from tests.support.consent_rows import at, put_state
from tests.support.redis_server import RedisServer, find_redis_server, start_redis
from tests.support.stack import make_shop

pytestmark = pytest.mark.redis
SUBJECT = "d" * 64
BREAKER = 0.2


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with start_redis() as server:
        yield server


@pytest.fixture
def runtime(tmp_path: Path, server: RedisServer) -> Iterator[Runtime]:
    _db, mapdir = make_shop(tmp_path, customers=3)
    settings = Settings(
        data_dir=tmp_path / "data", datamap_dir=mapdir, consent_cache_url=server.url()
    )
    runtime = build_runtime(settings)
    # Short breaker and timeout, so the test waits little for a Redis that is away.
    object.__setattr__(
        runtime.platform,
        "consent_cache",
        RedisConsentCache(server.url(), timeout_seconds=0.2, breaker_seconds=BREAKER),
    )
    yield runtime
    runtime.close()


def granted(runtime: Runtime, purpose: str = "analytics") -> bool:
    doc: dict[str, Any] = json.loads(consent_read.current(runtime.platform, SUBJECT, "gdpr"))
    return bool(doc["purposes"][purpose]["granted"])


def cache_of(runtime: Runtime) -> RedisConsentCache:
    cache = runtime.platform.consent_cache
    assert isinstance(cache, RedisConsentCache)
    return cache


def write(runtime: Runtime, value: bool, seconds: float) -> None:
    """A committed write followed by the writer's refresh (what the ledger does)."""
    put_state(runtime.engine, SUBJECT, "analytics", value, at(seconds))
    consent_read.refresh(runtime.platform, SUBJECT)


def restart(server: RedisServer) -> None:
    """A fresh (empty) redis-server on the same port, as after a crash without persistence."""
    args = [find_redis_server(), "--port", str(server.port), "--bind", "127.0.0.1",
            "--dir", str(server.root), "--save", "", "--appendonly", "no"]  # fmt: skip
    server.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if server.client().ping():
                return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("redis-server did not come back")


def test_put_replaces_only_an_older_version_and_sets_a_ttl(server: RedisServer) -> None:
    cache = RedisConsentCache(server.url(), ttl_seconds=60)
    cache.put("consent:k", 2, b"new")
    cache.put("consent:k", 1, b"old")
    assert cache.get("consent:k") == b"new"
    cache.put("consent:k", 3, b"newer")
    assert cache.get("consent:k") == b"newer"
    assert 0 < server.client().ttl("consent:k") <= 60
    cache.forget("consent:k")
    assert cache.get("consent:k") is None
    cache.close()


def test_read_your_writes_through_refresh(runtime: Runtime, server: RedisServer) -> None:
    write(runtime, True, 1)
    assert granted(runtime) is True
    write(runtime, False, 2)
    assert granted(runtime) is False
    assert server.client().exists(consent_read.cache_key(SUBJECT)) == 1


def test_redis_killed_reads_come_from_the_database_and_no_stale_document_after(
    runtime: Runtime, server: RedisServer
) -> None:
    write(runtime, True, 1)
    assert granted(runtime) is True
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=10)
    write(runtime, False, 2)  # refresh cannot reach Redis: remembered
    assert granted(runtime) is False  # read from the database
    cache = cache_of(runtime)
    assert cache.errors >= 1
    assert cache.pending == 1
    started = time.monotonic()
    for _ in range(50):  # the breaker is open: no connect attempt per read
        assert granted(runtime) is False
    assert time.monotonic() - started < BREAKER * 3
    restart(server)
    time.sleep(BREAKER)
    assert granted(runtime) is False
    assert cache.pending == 0


def test_a_redis_that_comes_back_with_an_old_document_does_not_serve_it(
    runtime: Runtime, server: RedisServer
) -> None:
    write(runtime, True, 1)
    assert granted(runtime) is True  # Redis holds "granted" ...
    server.client().save()  # ... on disk too
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=10)
    write(runtime, False, 2)  # the refresh cannot reach Redis: remembered
    assert granted(runtime) is False
    restart(server)  # loads the old document from its snapshot
    assert b'"granted":true' in (server.client().hget(consent_read.cache_key(SUBJECT), "d") or b"")
    time.sleep(BREAKER)
    assert granted(runtime) is False  # the remembered write was replayed before the read
    raw = server.client().hget(consent_read.cache_key(SUBJECT), "d")
    assert raw is not None
    assert b'"granted":false' in raw


async def test_reads_on_an_event_loop_hit_redis_without_blocking_and_defer_to_replays(
    runtime: Runtime, server: RedisServer
) -> None:
    write(runtime, True, 1)
    consent_read.current(runtime.platform, SUBJECT, "gdpr")  # loads the purpose catalogue
    cache = cache_of(runtime)
    try:
        hit = await consent_read.cached_async(runtime.platform, SUBJECT, "ccpa")
        assert hit is not None
        assert json.loads(hit)["purposes"]["analytics"]["granted"] is True
        assert server.process is not None
        server.process.kill()
        server.process.wait(timeout=10)
        write(runtime, False, 2)  # remembered
        restart(server)
        await asyncio.sleep(BREAKER)
        # A failed write waits: the loop's read says "ask the database" (which replays it).
        assert await consent_read.cached_async(runtime.platform, SUBJECT, "gdpr") is None
        assert granted(runtime) is False
        again = await consent_read.cached_async(runtime.platform, SUBJECT, "gdpr")
        assert again is not None
        assert json.loads(again)["purposes"]["analytics"]["granted"] is False
    finally:
        await cache.aclose()
