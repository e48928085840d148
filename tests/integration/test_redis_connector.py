"""The `redis` connector against a real, throwaway redis-server.

`run_contract` is not called as is: its fixture is relational. Its rows are typed (int ids)
while redis stores only strings, its parent is looked up by `email`, a value *inside* a row
(finding that in redis means reading every key, which this connector refuses by design), and
its keys are column tuples rather than redis keys. `test_contract_equivalent` makes the same
checks on redis hashes instead: lookups with duplicates/NULL/missing values, OR-ed placeholders,
`fetch_fields` only, equal rows never merged, lazy pages of every size each row once, fetch by
keys, guarded and idempotent masks with counts of rows that changed, idempotent deletes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import redis
import yaml

from rightsflow.connectors.redis_keys import MAX_PATTERNS
from rightsflow.connectors.redis_kv import REDIS_CONNECTOR, RedisConfig, RedisConnector
from rightsflow.connectors.registry import ConnectorRegistry, default_registry
from rightsflow.domain.connector import RowChange, Scalar
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import IdentityInput, PlanNode
from rightsflow.services import execution, requests
from tests.support.erasure_checks import platform_for, run_request
from tests.support.redis_server import RedisServer, start_redis

pytestmark = pytest.mark.redis

BATCH = 3
COLLECTIONS = {
    "profile": {"key": "user:{user_id}:profile", "type": "hash"},
    "sessions": {"key": "session:{user_id}:*", "type": "hash"},
    "devices": {"key": "device:{user_id}:{device}", "type": "hash"},
    "token": {"key": "token:{email}", "type": "string"},
    "tags": {"key": "tags:{user_id}", "type": "set"},
    "scores": {"key": "scores:{user_id}", "type": "zset"},
    "events": {"key": "events:{user_id}", "type": "list"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with start_redis() as started:
        yield started


@pytest.fixture
def client(server: RedisServer) -> Iterator[redis.Redis]:
    client = server.client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def connector(server: RedisServer, client: redis.Redis) -> Iterator[RedisConnector]:
    config = RedisConfig(url=server.url(), collections=COLLECTIONS, batch_size=BATCH)  # type: ignore[arg-type]
    connector = RedisConnector(config)
    yield connector
    connector.close()


def node(collection: str, fetch: Sequence[str] = (), action: str = "return") -> PlanNode:
    return PlanNode(
        address=f"cache:{collection}",
        system="cache",
        connector="redis",
        wave=0,
        primary_key=("_key",),
        identity_inputs=(IdentityInput("user_id", "user_id"),),
        edge_inputs=(),
        targets=(),
        fetch_fields=tuple(fetch),
        action=action,
    )


def _keys(rows: Sequence[Mapping[str, object]]) -> list[str]:
    return sorted(str(row["_key"]) for row in rows)


def test_contract_equivalent(connector: RedisConnector, client: redis.Redis) -> None:
    users = 2 * BATCH + 3
    for i in range(1, users + 1):
        fields = {"email": f"user{i}@example.com", "name": f"Name {i}", "plan": "free"}
        if i % 5:
            fields["phone"] = f"+1555{i:04d}"
        client.hset(f"user:{i}:profile", mapping=fields)
    client.hset("user:elsewhere", mapping={"email": "x"})  # not a key of the template
    connector.check()
    profile = node("profile", ("_key", "email", "phone"))
    ids: list[Scalar] = list(range(1, users + 1))

    found = connector.retrieve(profile, {"user_id": [*ids, 1, "1", 10**6, None, ""]})
    assert _keys(found) == sorted(f"user:{i}:profile" for i in ids)
    assert all(set(row) == {"_key", "email", "phone"} for row in found)
    assert next(r for r in found if r["_key"] == "user:5:profile")["phone"] is None
    either = connector.retrieve(profile, {"user_id": [1], "_key": ["user:2:profile", "user:x"]})
    assert _keys(either) == ["user:1:profile", "user:2:profile"]
    plans = connector.retrieve(node("profile", ("plan",)), {"user_id": ids})
    assert plans == [{"plan": "free"}] * users, "equal rows are not merged"
    for lookups in ({}, {"user_id": []}, {"user_id": [None]}, {"user_id": ["nobody"]}):
        assert connector.retrieve(profile, lookups) == []
        assert list(connector.retrieve_pages(profile, lookups, 2)) == []

    for page_size in (1, 2, BATCH, users + 1):
        pages = connector.retrieve_pages(profile, {"user_id": ids}, page_size)
        assert iter(pages) is pages
        sizes = [len(page) for page in pages]
        assert all(0 < size <= page_size for size in sizes)
        assert sum(sizes) == users

    by_keys = [{"_key": f"user:{i}:profile"} for i in ids]
    fetched = connector.fetch_by_keys(profile, [*by_keys, by_keys[0], {"_key": "user:0:profile"}])
    assert _keys(fetched) == _keys(found)
    assert connector.fetch_by_keys(profile, []) == []
    with pytest.raises(ConnectorFailure, match="_key"):
        connector.fetch_by_keys(profile, [{"id": 1}])

    masking = node("profile", ("_key",), "mask")
    masked = {"name": "[masked]", "phone": None}
    many = BATCH + 2
    changes = [RowChange({"_key": f"user:{i}:profile"}, masked) for i in range(1, many + 1)]
    changes.append(RowChange({"_key": "user:999:profile"}, masked))  # gone: not recreated
    assert connector.mask(masking, changes) == many
    assert connector.mask(masking, changes) == 0, "a repeated mask changes nothing"
    assert not client.exists("user:999:profile")
    assert client.hgetall("user:2:profile") == {b"email": b"user2@example.com",
                                                b"name": b"[masked]", b"plan": b"free"}  # fmt: skip
    assert client.hget(f"user:{many + 1}:profile", "name") == f"Name {many + 1}".encode()
    assert connector.mask(masking, []) == 0

    deleting = node("profile", ("_key",), "delete")
    gone = [{"_key": f"user:{i}:profile"} for i in range(1, BATCH + 2)]
    assert connector.delete(deleting, [*gone, {"_key": "user:elsewhere"}]) == len(gone)
    assert connector.delete(deleting, gone) == 0, "deleting twice counts once"
    assert connector.delete(deleting, []) == 0
    assert client.exists("user:elsewhere") == 1
    assert connector.fetch_by_keys(profile, gone) == []
    assert len(connector.retrieve(profile, {"user_id": ids})) == users - len(gone)


def test_scan_finds_and_erases_only_the_subjects_keys(
    connector: RedisConnector, client: redis.Redis
) -> None:
    subjects = ["1", "10", "11", "a*", "ab", "x?y", "x]y"]
    for subject in subjects:
        for n in range(2 * BATCH + 1):  # several SCAN batches per subject
            client.hset(f"session:{subject}:{n}", mapping={"sid": f"{subject}/{n}"})
    client.hset("session:1", mapping={"sid": "no third part"})
    sessions = node("sessions", ("_key", "sid"))
    for subject in subjects:
        rows = connector.retrieve(sessions, {"user_id": [subject]})
        assert sorted(row["sid"] for row in rows) == sorted(
            f"{subject}/{n}" for n in range(2 * BATCH + 1)
        ), subject
    erased = connector.delete(
        node("sessions", action="delete"),
        [{"_key": row["_key"]} for row in connector.retrieve(sessions, {"user_id": ["1", "a*"]})],
    )
    assert erased == 2 * (2 * BATCH + 1)
    left = sorted(k.decode() for k in client.scan_iter(match="session:*"))
    assert left == sorted(
        ["session:1"]
        + [f"session:{s}:{n}" for s in subjects if s not in ("1", "a*") for n in range(7)]
    )


def _scans(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0))


def test_many_values_share_one_scan(connector: RedisConnector, client: redis.Redis) -> None:
    subjects = [f"u{i}" for i in range(MAX_PATTERNS + 4)]
    for subject in subjects:
        for n in range(2):
            client.hset(f"session:{subject}:{n}", mapping={"sid": f"{subject}/{n}"})
    sessions = node("sessions", ("sid",))
    wanted = subjects[1:]  # more than MAX_PATTERNS values
    client.config_resetstat()
    rows = connector.retrieve(sessions, {"user_id": [*wanted, "u1"]})
    one_walk = _scans(client)
    assert sorted(r["sid"] for r in rows) == sorted(f"{s}/{n}" for s in wanted for n in range(2))
    client.config_resetstat()
    assert len(connector.retrieve(sessions, {"user_id": ["u0"]})) == 2
    assert one_walk == _scans(client), "one SCAN walk for many values, as for one"


def test_unfilled_placeholders_are_wildcards(
    connector: RedisConnector, client: redis.Redis
) -> None:
    for user, device in [("1", "phone"), ("1", "tablet"), ("2", "phone")]:
        client.hset(f"device:{user}:{device}", mapping={"model": f"{user}-{device}"})
    devices = node("devices", ("model",))
    assert sorted(r["model"] for r in connector.retrieve(devices, {"user_id": [1]})) == [
        "1-phone",
        "1-tablet",
    ]
    both = connector.retrieve(devices, {"user_id": [2], "device": ["tablet"]})
    assert sorted(r["model"] for r in both) == ["1-tablet", "2-phone"]


def test_each_type_is_read_and_erased(connector: RedisConnector, client: redis.Redis) -> None:
    client.set("token:a@example.com", "t-1")
    client.set("token:b@example.com", "t-2")
    client.sadd("tags:7", "red", "blue")
    client.zadd("scores:7", {"chess": 3.0, "go": 1.5})
    client.rpush("events:7", "login", "logout", "login")
    token = connector.retrieve(node("token", ("_key", "value")), {"email": ["a@example.com"]})
    assert token == [{"_key": "token:a@example.com", "value": "t-1"}]
    assert connector.retrieve(node("tags", ("members",)), {"user_id": [7]}) == [
        {"members": ["blue", "red"]}
    ]
    assert connector.retrieve(node("scores", ("members",)), {"user_id": [7]}) == [
        {"members": [{"member": "go", "score": 1.5}, {"member": "chess", "score": 3.0}]}
    ]
    assert connector.retrieve(node("events", ()), {"user_id": [7]}) == [
        {"_key": "events:7", "members": ["login", "logout", "login"]}
    ]
    # Masking a value that is not a hash deletes the key; twice counts once.
    tags = RowChange({"_key": "tags:7"}, {"members": None})
    assert connector.mask(node("tags", action="mask"), [tags]) == 1
    assert connector.mask(node("tags", action="mask"), [tags]) == 0
    keys = [{"_key": "token:a@example.com"}]
    assert connector.delete(node("token", action="delete"), keys) == 1
    for collection in ("scores", "events"):
        assert connector.delete(node(collection, action="delete"), [{"_key": f"{collection}:7"}])
    assert sorted(client.keys()) == [b"token:b@example.com"]


def test_failures_never_show_keys_or_values(
    server: RedisServer, connector: RedisConnector, client: redis.Redis
) -> None:
    email = "secret.person@example.com"
    client.set(f"user:{email}:profile", "a string, not a hash")
    profile = node("profile", ("_key",))
    with pytest.raises(ConnectorFailure) as wrong_type:
        connector.retrieve(profile, {"user_id": [email]})
    with pytest.raises(ConnectorFailure) as wrong_mask:
        connector.mask(
            node("profile", action="mask"),
            [RowChange({"_key": f"user:{email}:profile"}, {"name": "x"})],
        )
    with pytest.raises(ConnectorFailure) as unknown_field:
        connector.retrieve(profile, {"email": [email]})
    failures = [wrong_type.value, wrong_mask.value, unknown_field.value]
    for failure in failures:
        assert email not in str(failure)
        assert "secret" not in str(failure)
        assert failure.__cause__ is None
        assert failure.__context__ is None or failure.__suppress_context__
    assert "WRONGTYPE" in str(wrong_type.value)
    assert not wrong_type.value.retryable
    assert "cache:profile" in str(wrong_type.value)
    assert "cannot look up by email" in str(unknown_field.value)

    config = RedisConfig(url="redis://:hunter2@127.0.0.1:1/0", collections=COLLECTIONS)  # type: ignore[arg-type]
    down = RedisConnector(config)
    with pytest.raises(ConnectorFailure) as unreachable:
        down.retrieve(profile, {"user_id": [email]})
    with pytest.raises(ConnectorFailure):
        down.check()
    assert unreachable.value.retryable
    assert "hunter2" not in str(unreachable.value)
    assert email not in str(unreachable.value)
    assert "hunter2" not in repr(config)
    down.close()
    with pytest.raises(ConnectorFailure, match="no key template"):
        connector.retrieve(node("unknown"), {"user_id": [1]})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"collections": {"a": {"key": "a:{id}", "type": "hash"}}}, "url: field required"),
        ({"url": "http://x", "collections": {"a": {"key": "a:{id}", "type": "hash"}}},
         "url: not a redis URL"),
        ({"url": "redis://:pw@h:port/0", "collections": {"a": {"key": "a:{id}", "type": "hash"}}},
         "url: not a valid redis URL"),
        ({"url": "redis://h", "collections": {"a": {"key": "a:{id}", "type": "json"}}},
         "collections.a.type: input should be 'string', 'hash', 'set', 'zset' or 'list'"),
        ({"url": "redis://h", "collections": {"a": {"key": "a:*", "type": "hash"}}},
         "collections.a.key: the template has no {field} placeholder"),
        ({"url": "redis://h", "collections": {"a": {"key": "a:{id!r}", "type": "hash"}}},
         "collections.a.key: placeholder {id} must be a plain field name"),
        ({"url": "redis://h", "collections": {"a": {"key": "a:{id", "type": "hash"}}},
         "collections.a.key: unbalanced braces"),
        ({"url": "redis://h", "collections": {"a": {"key": "a:?{id}", "type": "hash"}}},
         "collections.a.key: only `*` may be used as a wildcard"),
        ({"url": "redis://h", "collections": {"a": {"key": "a:{id}", "type": "hash", "x": 1}}},
         "collections.a.x: extra inputs are not permitted"),
        ({"url": "redis://h", "collections": {}}, "collections: "),
    ],
)  # fmt: skip
def test_config_errors_are_precise(config: dict[str, object], message: str) -> None:
    registry = ConnectorRegistry([REDIS_CONNECTOR])
    problems = registry.validate_config("redis", config)
    assert any(problem.startswith(message) for problem in problems), problems


def test_password_is_never_echoed() -> None:
    registry = ConnectorRegistry([REDIS_CONNECTOR])
    problems = registry.validate_config("redis", {"url": "http://:hunter2@h", "collections": 1})
    assert problems
    assert "hunter2" not in "; ".join(problems)


def test_redis_is_a_builtin_kind() -> None:
    spec = default_registry(plugins=[]).get("redis")
    assert spec.capabilities == {"retrieve", "mask", "delete"}


def _datamap(url: str) -> dict[str, str]:
    def field(name: str, category: str, **meta: object) -> dict[str, object]:
        return {"name": name, "data_categories": [category],
                "fides_meta": {"data_type": "string", **meta}}  # fmt: skip

    key = field("_key", "system.operations", primary_key=True)
    email = field("email", "user.contact.email", identity="email")
    profile = {"name": "profile", "fields": [key, email, field("name", "user.name")]}
    sessions = {
        "name": "sessions",
        "fields": [key, email, field("ip", "user.device.ip_address")],
        "fides_meta": {"rightsflow": {"erasure": "delete"}},
    }
    dataset = {"fides_key": "cache", "name": "Cache", "collections": [profile, sessions]}
    collections = {
        "profile": {"key": "user:{email}:profile", "type": "hash"},
        "sessions": {"key": "session:{email}:*", "type": "hash"},
    }
    system = {"key": "cache", "connector": "redis", "datasets": ["cache"],
              "config": {"url": url, "batch_size": 2, "collections": collections}}  # fmt: skip
    return {
        "cache.yml": yaml.safe_dump({"dataset": [dataset]}, sort_keys=False),
        "systems.yml": yaml.safe_dump({"systems": [system]}, sort_keys=False),
    }


def test_access_and_erasure_through_the_platform(
    server: RedisServer, client: redis.Redis, tmp_path: Path
) -> None:
    for who in ("ann@example.com", "bob@example.com"):
        client.hset(f"user:{who}:profile", mapping={"email": who, "name": who[:3], "plan": "p"})
        for n in range(5):
            client.hset(f"session:{who}:{n}", mapping={"email": who, "ip": f"10.0.0.{n}"})
    identities = {"email": "ann@example.com"}
    with platform_for(tmp_path, _datamap(server.url())) as platform:
        access = run_request(
            platform, requests.NewRequest("access", identities, "gdpr", verified=True)
        )
        assert access.status == "completed", access.failure
        assert len(execution.rows_found(platform, access.request_id, "cache:sessions")) == 5
        [row] = execution.rows_found(platform, access.request_id, "cache:profile")
        assert row["name"] == "ann"
        erasure = run_request(
            platform, requests.NewRequest("erasure", identities, "gdpr", verified=True)
        )
        assert erasure.status == "completed", erasure.failure
    assert client.hgetall("user:ann@example.com:profile") == {b"name": b"MASKED", b"plan": b"p"}
    left = sorted(k.decode() for k in client.scan_iter(match="session:*"))
    assert left == [f"session:bob@example.com:{n}" for n in range(5)]
    assert client.hgetall("user:bob@example.com:profile")[b"name"] == b"bob"
