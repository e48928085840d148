"""The `iceberg` connector over a real warehouse: PyIceberg, a SQLite SQL catalog, local files.

The history tests decode every file left under the warehouse (Parquet data and statistics,
Avro manifests and manifest lists, metadata JSON) and look for the erased values."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rightsflow.connectors.base import Row, RowChange
from rightsflow.connectors.iceberg_lake import ICEBERG_CONNECTOR, IcebergLakeConnector
from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.connectors.testing import run_contract
from rightsflow.domain.connector import WriteOutcome
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import IdentityInput, PlanNode
from tests.support.iceberg_lake import (
    Lake,
    append_in_files,
    contract_storage,
    files_holding,
    make_lake,
)
from tests.support.postgres import PostgresServer

ROWS_PER_FILE = 5
SUBJECT_EMAIL = "zelda.subject-person@example.org"  # longer than a 16-character bound
SUBJECT_NAME = "Zelda Quixotic-Subject"
PEOPLE = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        ("email", pa.string()),
        ("name", pa.string()),
        ("country", pa.string()),
    ]
)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return make_lake(tmp_path)


def _node(
    collection: str, fetch: tuple[str, ...], key: tuple[str, ...] = ("id",), action: str = "return"
) -> PlanNode:
    return PlanNode(
        address=f"lake:{collection}",
        system="lake",
        connector="iceberg",
        wave=0,
        primary_key=key,
        identity_inputs=(IdentityInput("email", "email"),),
        edge_inputs=(),
        targets=(),
        fetch_fields=fetch,
        action=action,
    )


def _people(lake: Lake, partitioned: bool = False) -> list[Row]:
    """People 1-12 in three countries; the subject is id 7 (country "fr", with 1, 4, 10)."""
    table = lake.create("people", PEOPLE)
    if partitioned:
        with table.update_spec() as spec:
            spec.add_identity("country")
    rows = [
        {
            "id": i,
            "email": SUBJECT_EMAIL if i == 7 else f"someone.number{i}@example.org",
            "name": SUBJECT_NAME if i == 7 else f"Person {i}",
            "country": ("de", "fr", "nl")[i % 3],
        }
        for i in range(1, 13)
    ]
    append_in_files(lake, "people", rows, ROWS_PER_FILE)
    return rows


# Manifests keep a string column's bounds as 16-character prefixes, the upper one with its
# last character incremented: 15 characters are in both.
NEEDLES = [SUBJECT_EMAIL, SUBJECT_EMAIL[:15], SUBJECT_NAME, SUBJECT_NAME[:15]]


def _traces(lake: Lake) -> dict[str, list[str]]:
    return files_holding(lake, NEEDLES)


def _no_traces(lake: Lake) -> None:
    assert _traces(lake) == {key: [] for key in NEEDLES}


# -- the contract ---------------------------------------------------------------------------


def test_iceberg_connector_passes_the_contract(lake: Lake) -> None:
    seed, read_all = contract_storage(lake, ROWS_PER_FILE)
    connector = lake.connector()
    try:
        run_contract(connector, seed, read_all, chunk_size=4)
    finally:
        connector.close()
    # Every erase left only its own result in the history.
    assert [len(lake.table(n).snapshots()) for n in ("customers", "orders")] == [1, 1]


@pytest.mark.postgres
def test_contract_with_a_postgresql_catalog(sql_pg_server: PostgresServer, tmp_path: Path) -> None:
    sql_pg_server.create_database("iceberg_catalog")
    uri = sql_pg_server.url("iceberg_catalog")
    lake = make_lake(tmp_path, uri.replace("postgresql://", "postgresql+psycopg://"))
    seed, read_all = contract_storage(lake, ROWS_PER_FILE)
    connector = lake.connector(catalog_uri=uri)  # a bare postgresql:// uses psycopg 3
    try:
        run_contract(connector, seed, read_all, chunk_size=4)
        append_in_files(lake, "customers", [{"id": 99, "email": SUBJECT_EMAIL, "name": None}])
        node = _node("customers", ("id",), action="delete")
        assert connector.delete(node, [{"id": 99}]).rows == 1
    finally:
        connector.close()
        lake.catalog.engine.dispose()
    _no_traces(lake)


# -- erasure leaves no history ----------------------------------------------------------------


def test_delete_leaves_no_trace_in_any_file_of_the_warehouse(lake: Lake) -> None:
    rows = _people(lake)
    append_in_files(lake, "people", [])  # no-op: appends of nothing add no snapshot
    assert len(lake.table("people").snapshots()) == 3
    before = _traces(lake)
    # The subject is in data files, Parquet statistics and manifest bounds (the test can fail).
    assert all(before.values())
    assert any(p.endswith("-m0.avro") for p in before[SUBJECT_EMAIL[:15]])
    connector = lake.connector()
    outcome = connector.delete(_node("people", ("id",), action="delete"), [{"id": 7}])
    assert isinstance(outcome, WriteOutcome)
    assert outcome.rows == 1
    _no_traces(lake)
    assert sorted(lake.rows("people"), key=lambda r: r["id"]) == [r for r in rows if r["id"] != 7]
    table = lake.table("people")
    assert [s.snapshot_id for s in table.snapshots()] == [table.current_snapshot().snapshot_id]
    evidence = outcome.evidence
    assert len(evidence["snapshots_expired"]) >= 3  # the three appends and the erase's own
    assert all(s.isdigit() for s in evidence["snapshots_expired"])
    assert evidence["files_rewritten"] == (
        next(p for p in before[SUBJECT_EMAIL] if p.endswith(".parquet")),
    )
    assert len(evidence["files_written"]) == 1
    files = lake.files()
    assert all(p.startswith("lake/people/") and p not in files for p in evidence["files_removed"])
    assert evidence["files_rewritten"][0] in evidence["files_removed"]
    assert "snapshots_retained" not in evidence
    # Still a table: it reads, and the connector finds the others but not the subject.
    lookup = connector.retrieve(_node("people", ("id", "name")), {"email": [SUBJECT_EMAIL]})
    assert lookup == []
    assert len(connector.retrieve(_node("people", ("id",)), {"country": ["de", "fr"]})) == 7


def test_mask_overwrites_the_values_everywhere_and_is_idempotent(lake: Lake) -> None:
    rows = _people(lake)
    connector = lake.connector()
    node = _node("people", ("id",), action="mask")
    change = RowChange({"id": 7}, {"email": "erased-7@invalid", "name": None})
    outcome = connector.mask(node, [change])
    assert outcome.rows == 1
    _no_traces(lake)
    expected = [
        r | {"email": "erased-7@invalid", "name": None} if r["id"] == 7 else r for r in rows
    ]
    assert sorted(lake.rows("people"), key=lambda r: r["id"]) == expected
    assert outcome.evidence["files_rewritten"]
    assert outcome.evidence["snapshots_expired"]
    files = lake.files()
    again = connector.mask(node, [change])
    assert again == WriteOutcome(0, {}), "nothing changed, expired or removed the second time"
    assert lake.files() == files, "a repeated mask touches no file"


def test_partitioned_table_rewrites_only_the_subjects_partition(lake: Lake) -> None:
    _people(lake, partitioned=True)
    files_before = lake.files()
    data_before = sorted(p for p in files_before if p.endswith(".parquet"))
    assert any("country=de" in p for p in data_before)
    connector = lake.connector()
    outcome = connector.delete(_node("people", ("id",), action="delete"), [{"id": 7}])
    assert outcome.rows == 1
    _no_traces(lake)
    rewritten = outcome.evidence["files_rewritten"]
    assert rewritten
    assert all("/country=fr/" in p for p in rewritten)
    files = lake.files()
    for path in data_before:
        if "/country=fr/" not in path or path not in rewritten:
            assert files[path] == files_before[path], "other partitions' files are untouched"
    # A lookup on the partition column prunes to it and still reads.
    assert sorted(
        r["id"] for r in lake.connector().retrieve(_node("people", ("id",)), {"country": ["fr"]})
    ) == [1, 4, 10]


def test_composite_keys_match_whole_tuples(lake: Lake) -> None:
    schema = pa.schema(
        [pa.field("a", pa.int64(), False), pa.field("b", pa.string(), False), ("v", pa.string())]
    )
    lake.create("pairs", schema)
    rows = [{"a": a, "b": b, "v": f"{a}{b}"} for a in (1, 2) for b in ("x", "y")]
    append_in_files(lake, "pairs", rows)
    connector = lake.connector()
    node = _node("pairs", ("a", "b", "v"), key=("a", "b"), action="delete")
    keys = [{"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 3, "b": "x"}]
    # Every a and b value is wanted, but only two pairs: (1, x) and (2, y) must stay.
    assert connector.fetch_by_keys(node, keys) == [
        {"a": 1, "b": "y", "v": "1y"},
        {"a": 2, "b": "x", "v": "2x"},
    ]
    assert connector.delete(node, keys).rows == 2
    assert sorted(lake.rows("pairs"), key=lambda r: r["a"]) == [
        {"a": 1, "b": "x", "v": "1x"},
        {"a": 2, "b": "y", "v": "2y"},
    ]
    masked = connector.mask(node, [RowChange({"a": "2", "b": "y"}, {"v": "-"})])
    assert masked.rows == 1, "a key given as text fits the long column"
    assert {r["v"] for r in lake.rows("pairs")} == {"1x", "-"}


def test_struct_columns_are_looked_up_by_dotted_path_and_masked_whole(lake: Lake) -> None:
    device = pa.struct([("os", pa.string()), ("model", pa.string())])
    lake.create("devices", pa.schema([pa.field("id", pa.int64(), False), ("device", device)]))
    rows = [{"id": i, "device": {"os": "linux", "model": f"m{i}"}} for i in (1, 2)]
    append_in_files(lake, "devices", rows)
    connector = lake.connector()
    found = connector.retrieve(_node("devices", ("id", "device")), {"device.model": ["m2"]})
    assert found == [rows[1]]
    change = RowChange({"id": 2}, {"device": {"os": "linux", "model": None}})
    assert connector.mask(_node("devices", ("id",)), [change]).rows == 1
    assert connector.fetch_by_keys(_node("devices", ("device",)), [{"id": 2}]) == [
        {"device": {"os": "linux", "model": None}}
    ]


def test_a_retry_after_a_crash_finishes_the_purge(lake: Lake) -> None:
    """The rows were deleted but the process died before expiring: the activity's retry
    finds nothing to delete (0) and still leaves no trace."""
    _people(lake)
    lake.table("people").delete("id = 7")
    assert _traces(lake)[SUBJECT_EMAIL]
    outcome = lake.connector().delete(_node("people", ("id",), action="delete"), [{"id": 7}])
    assert outcome.rows == 0
    assert outcome.evidence["snapshots_expired"]
    assert outcome.evidence["files_removed"]
    assert "files_rewritten" not in outcome.evidence
    _no_traces(lake)


def test_retained_snapshots_are_named_in_the_evidence(lake: Lake) -> None:
    _people(lake)
    connector = lake.connector(retain_last=3)
    outcome = connector.delete(_node("people", ("id",), action="delete"), [{"id": 7}])
    retained = outcome.evidence["snapshots_retained"]
    assert len(retained) == 1, "the newest append still reads the subject's old file"
    table = lake.table("people")
    assert len(table.snapshots()) == 3
    assert table.snapshot_by_id(int(retained[0])) is not None
    assert _traces(lake)[SUBJECT_EMAIL], "kept on purpose: retain_last is 3"
    # Expiring later (retain_last=1) completes the erasure.
    assert lake.connector().delete(_node("people", ("id",), action="delete"), [{"id": 7}]).rows == 0
    _no_traces(lake)


def test_orphans_are_removed_after_their_grace_period(lake: Lake) -> None:
    _people(lake)
    data = lake.warehouse / "lake" / "people" / "data"
    old = data / "crashed-writer.parquet"
    young = data / "in-flight-writer.parquet"
    other = lake.warehouse / "lake" / "people" / "notes.txt"
    for path in (old, young, other):
        path.write_bytes(SUBJECT_EMAIL.encode())
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    outcome = lake.connector().delete(_node("people", ("id",), action="delete"), [{"id": 7}])
    assert "lake/people/data/crashed-writer.parquet" in outcome.evidence["files_removed"]
    assert not old.exists()
    assert young.exists(), "a young file may be a writer's that has not committed yet"
    assert other.exists(), "not a table file"
    lake.connector(orphan_min_age_seconds=0).delete(_node("people", ("id",)), [{"id": 7}])
    assert not young.exists()
    assert other.exists()
    untouched = lake.connector(remove_orphan_files=False)
    young.write_bytes(b"x")
    os.utime(young, (an_hour_ago, an_hour_ago))
    untouched.delete(_node("people", ("id",)), [{"id": 7}])
    assert young.exists()


# -- configuration and failures ---------------------------------------------------------------

SECRET_URI = "postgresql://app:hunter2-secret@db.internal/catalog"


def test_spec_is_a_builtin_with_a_strict_config(lake: Lake) -> None:
    assert ICEBERG_CONNECTOR in builtin_specs()
    assert ICEBERG_CONNECTOR.capabilities == {"retrieve", "mask", "delete"}
    registry = ConnectorRegistry([ICEBERG_CONNECTOR])
    base = {"warehouse": str(lake.warehouse), "namespace": "lake"}
    assert registry.validate_config("iceberg", base) == [
        "(root): give exactly one of catalog_uri and catalog_uri_env"
    ]
    both = base | {"catalog_uri": SECRET_URI, "catalog_uri_env": "X"}
    assert registry.validate_config("iceberg", both)
    for bad in (
        base | {"catalog_uri": "::hunter2-secret::"},
        base | {"catalog_uri": lake.uri, "retain_last": 0},
        base | {"catalog_uri": lake.uri, "tables": {"people": "../people"}},
        base | {"catalog_uri": lake.uri, "bogus": 1},
    ):
        problems = registry.validate_config("iceberg", bad)
        assert len(problems) == 1
        assert "hunter2" not in problems[0]
    config = registry.parse_config("iceberg", base | {"catalog_uri": SECRET_URI})
    assert "hunter2" not in repr(config)
    schema = ICEBERG_CONNECTOR.config_model.model_json_schema()
    assert {"catalog_uri", "catalog_uri_env", "retain_last", "remove_orphan_files"} <= set(
        schema["properties"]
    )


def test_catalog_uri_from_the_environment(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    config = lake.config().model_dump() | {"catalog_uri": None, "catalog_uri_env": "RF_ICE_URI"}
    connector = IcebergLakeConnector(type(lake.config()).model_validate(config))
    with pytest.raises(ConnectorFailure, match="RF_ICE_URI is not set") as caught:
        connector.check()
    assert not caught.value.retryable
    monkeypatch.setenv("RF_ICE_URI", lake.uri)
    connector.check()
    connector.close()


def _failure(action: Callable[[], Any]) -> ConnectorFailure:
    with pytest.raises(ConnectorFailure) as caught:
        action()
    message = str(caught.value)
    for secret in (SUBJECT_EMAIL, SUBJECT_NAME, "hunter2", "catalog.db", "sqlite:"):
        assert secret not in message
    return caught.value


def test_failures_name_no_values(lake: Lake) -> None:
    _people(lake)
    connector = lake.connector()
    missing = _failure(lambda: connector.retrieve(_node("nope", ("id",)), {"id": [1]}))
    assert "lake:nope" in str(missing)
    assert not missing.retryable
    node = _node("people", ("id",), action="mask")
    required = _failure(lambda: connector.mask(node, [RowChange({"id": 7}, {"id": None})]))
    assert "'id'" in str(required)
    assert "required" in str(required)
    misfit = RowChange({"id": 7}, {"id": SUBJECT_EMAIL})
    assert "does not fit" in str(_failure(lambda: connector.mask(node, [misfit])))
    unknown = RowChange({"id": 7}, {"nickname": SUBJECT_NAME})
    assert "'nickname'" in str(_failure(lambda: connector.mask(node, [unknown])))
    keyless = _node("people", ("id",), key=(), action="delete")
    assert "no primary key" in str(_failure(lambda: connector.delete(keyless, [{"id": 7}])))
    assert len(lake.table("people").snapshots()) == 3, "nothing was written"
    data = next(p for p in lake.warehouse.rglob("*.parquet"))
    data.write_bytes(b"PAR1 not a parquet file " + SUBJECT_EMAIL.encode())
    broken = _failure(lambda: connector.retrieve(_node("people", ("id",)), {"country": ["de"]}))
    assert "iceberg lake failed" in str(broken)


def test_check_says_what_is_unreachable(lake: Lake, tmp_path: Path) -> None:
    lake.connector().check()
    gone = tmp_path / "elsewhere" / "catalog.db"
    no_db = lake.connector(catalog_uri=f"sqlite:///{gone}")
    assert "SQLite database file does not exist" in str(_failure(no_db.check))
    assert not gone.exists(), "a missing catalog is not created"
    no_ns = _failure(lake.connector(namespace="other").check)
    assert "namespace does not exist" in str(no_ns)
    assert not no_ns.retryable
    no_dir = lake.connector(warehouse=str(tmp_path / "no-warehouse"))
    assert "warehouse directory does not exist" in str(_failure(no_dir.check))
    wrong_name = lake.connector(catalog_name="other")  # tables are per catalog name
    assert "namespace does not exist" in str(_failure(wrong_name.check))
