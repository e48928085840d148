"""The `parquet` connector over real Parquet files written here with PyArrow."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from rightsflow.connectors.base import Row, RowChange, WriteOutcome
from rightsflow.connectors.parquet_lake import (
    PARQUET_CONNECTOR,
    ParquetConfig,
    ParquetLakeConnector,
)
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.connectors.testing import (
    CONTRACT_COLLECTIONS,
    run_contract,
)
from rightsflow.domain.errors import ConnectorFailure, InvalidInput
from rightsflow.domain.plan import IdentityInput, PlanNode
from rightsflow.services import requests
from tests.support.erasure_checks import platform_for, run_request

CHUNK = 4
ROWS_PER_FILE = 5


def rewrote(rows: int, *files: str) -> WriteOutcome:
    return WriteOutcome(rows, {"files_rewritten": files})


def _arrow_type(kind: type) -> Any:
    return pa.int64() if kind is int else pa.string()


def _seeder(root: Path) -> tuple[Any, Any]:
    """`seed` and `read_all` for run_contract: each collection a directory of small files."""

    def seed(address: str, rows: list[Row]) -> None:
        spec = next(c for c in CONTRACT_COLLECTIONS if c.address == address)
        schema = pa.schema([(name, _arrow_type(kind)) for name, kind in spec.columns])
        directory = root / spec.name
        directory.mkdir(parents=True)
        for n, start in enumerate(range(0, len(rows), ROWS_PER_FILE)):
            part = rows[start : start + ROWS_PER_FILE]
            pq.write_table(
                pa.Table.from_pylist(part, schema=schema), directory / f"p{n:03d}.parquet"
            )

    def read_all(address: str) -> list[Row]:
        name = address.split(":", 1)[1]
        rows: list[Row] = ds.dataset(str(root / name), format="parquet").to_table().to_pylist()
        return rows

    return seed, read_all


def _node(
    address: str, fetch: tuple[str, ...], key: tuple[str, ...] = ("id",), action: str = "return"
) -> PlanNode:
    return PlanNode(
        address=address,
        system="lake",
        connector="parquet",
        wave=0,
        primary_key=key,
        identity_inputs=(IdentityInput("email", "email"),),
        edge_inputs=(),
        targets=(),
        fetch_fields=fetch,
        action=action,
    )


def _snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.relative_to(directory).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_parquet_connector_passes_the_contract(tmp_path: Path) -> None:
    seed, read_all = _seeder(tmp_path)
    connector = ParquetLakeConnector(ParquetConfig(root=str(tmp_path), batch_size=3))
    run_contract(connector, seed, read_all, chunk_size=CHUNK)


def test_spec_has_a_strict_config(tmp_path: Path) -> None:
    registry = ConnectorRegistry([PARQUET_CONNECTOR])
    assert PARQUET_CONNECTOR.capabilities == {"retrieve", "mask", "delete"}
    assert registry.validate_config("parquet", {"root": str(tmp_path), "bogus": 1})
    problems = registry.validate_config(
        "parquet", {"root": str(tmp_path), "collections": {"x": {"path": "../etc"}}}
    )
    assert len(problems) == 1
    assert "inside the root" in problems[0]
    connector = registry.create("parquet", {"root": str(tmp_path)})
    connector.check()


def _write_events(root: Path) -> Path:
    """web/page_views, Hive-partitioned by day, two files per partition holding users 8
    and 9; the subject, user 7, is only in day=2/part-0 (id 5). Ids 1-13."""
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("user_id", pa.int64()),
            ("email", pa.string()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("amount", pa.decimal128(10, 2)),
            ("device", pa.struct([("os", pa.string()), ("model", pa.string())])),
            ("note", pa.string()),
            pa.field("kind", pa.string(), nullable=False),
        ]
    )
    base = root / "web" / "page_views"
    next_id = 1
    for day in (1, 2, 3):
        for part in (0, 1):
            users = [7, 8, 9] if (day, part) == (2, 0) else [8, 9]
            rows = []
            for user in users:
                rows.append(
                    {
                        "id": next_id,
                        "user_id": user,
                        "email": f"user{user}@example.com",
                        "at": dt.datetime(2026, 1, day, 12, tzinfo=dt.UTC),
                        "amount": Decimal("12.34"),
                        "device": {"os": "linux", "model": f"m{user}"},
                        "note": f"note {next_id}",
                        "kind": "view",
                    }
                )
                next_id += 1
            directory = base / f"day={day}"
            directory.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pylist(rows, schema=schema)
            pq.write_table(table, directory / f"part-{part}.parquet", compression="zstd")
    return base


def _lake(root: Path) -> ParquetLakeConnector:
    config = ParquetConfig.model_validate(
        {"root": str(root), "collections": {"page_views": {"path": "web/page_views"}}}
    )
    return ParquetLakeConnector(config)


ADDRESS = "events:page_views"


def test_partitioned_lookup_and_streaming(tmp_path: Path) -> None:
    _write_events(tmp_path)
    lake = _lake(tmp_path)
    node = _node(ADDRESS, ("id", "day", "email", "device"))
    rows = lake.retrieve(node, {"email": ["user7@example.com"]})
    assert rows == [
        {"id": 5, "day": 2, "email": "user7@example.com", "device": {"os": "linux", "model": "m7"}}
    ]
    # A lookup on the partition column prunes by directory; a string for an int matches too.
    by_day = lake.retrieve(_node(ADDRESS, ("id",)), {"day": ["3"]})
    assert sorted(r["id"] for r in by_day) == [10, 11, 12, 13]
    nested = lake.retrieve(_node(ADDRESS, ("id",)), {"device.model": ["m7"]})
    assert nested == [{"id": 5}]
    pages = list(lake.retrieve_pages(_node(ADDRESS, ("id",)), {"user_id": [8, 9]}, 4))
    assert [len(p) for p in pages] == [4, 4, 4]
    assert len({r["id"] for p in pages for r in p}) == 12


def test_only_files_holding_the_subject_are_rewritten(tmp_path: Path) -> None:
    base = _write_events(tmp_path)
    lake = _lake(tmp_path)
    before = _snapshot(base)
    schema_before = pq.read_schema(base / "day=2" / "part-0.parquet")
    node = _node(ADDRESS, ("id",), action="delete")
    assert lake.delete(node, [{"id": 5}]) == rewrote(1, "web/page_views/day=2/part-0.parquet")
    after = _snapshot(base)
    assert sorted(after) == sorted(before), "no new or temporary files are left behind"
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == ["day=2/part-0.parquet"]
    rewritten = pq.ParquetFile(base / "day=2" / "part-0.parquet")
    assert rewritten.schema_arrow == schema_before
    assert rewritten.metadata.row_group(0).column(0).compression == "ZSTD"
    assert [r["user_id"] for r in rewritten.read().to_pylist()] == [8, 9]
    # Again: nothing to delete, nothing rewritten, nothing touched.
    assert lake.delete(node, [{"id": 5}]) == rewrote(0)
    assert _snapshot(base) == after


def test_mask_keeps_types_and_nested_values(tmp_path: Path) -> None:
    base = _write_events(tmp_path)
    lake = _lake(tmp_path)
    node = _node(ADDRESS, ("id",), action="mask")
    original = ds.dataset(str(base), partitioning="hive").to_table().to_pylist()
    changes = [
        RowChange({"id": 5}, {"email": "erased@invalid", "note": None, "amount": "0.00"}),
        RowChange({"id": 999}, {"note": None}),
    ]
    assert lake.mask(node, changes) == rewrote(1, "web/page_views/day=2/part-0.parquet")
    rows = {r["id"]: r for r in ds.dataset(str(base), partitioning="hive").to_table().to_pylist()}
    masked = rows[5]
    assert masked["email"] == "erased@invalid"
    assert masked["note"] is None
    assert masked["amount"] == Decimal("0.00")
    assert masked["at"] == dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)
    assert masked["device"] == {"os": "linux", "model": "m7"}
    for row in original:
        if row["id"] != 5:
            assert rows[row["id"]] == row
    snapshot = _snapshot(base)
    assert lake.mask(node, changes) == rewrote(0), "a repeated mask changes nothing"
    assert _snapshot(base) == snapshot


def test_mask_refusals_name_columns_not_values(tmp_path: Path) -> None:
    base = _write_events(tmp_path)
    lake = _lake(tmp_path)
    snapshot = _snapshot(base)
    node = _node(ADDRESS, ("id",), action="mask")
    with pytest.raises(ConnectorFailure, match="kind is not nullable"):
        lake.mask(node, [RowChange({"id": 5}, {"kind": None})])
    with pytest.raises(ConnectorFailure, match="column amount does not fit") as bad:
        lake.mask(node, [RowChange({"id": 5}, {"amount": "secret-value"})])
    assert "secret-value" not in str(bad.value)
    with pytest.raises(ConnectorFailure, match="partition column day"):
        lake.mask(node, [RowChange({"id": 5}, {"day": 9})])
    keyless = _node(ADDRESS, ("id",), key=(), action="delete")
    with pytest.raises(ConnectorFailure, match="no primary key"):
        lake.delete(keyless, [{"id": 5}])
    assert _snapshot(base) == snapshot, "a refused erasure touches no file"


def test_composite_key_with_a_partition_column(tmp_path: Path) -> None:
    base = _write_events(tmp_path)
    lake = _lake(tmp_path)
    node = _node(ADDRESS, ("id", "day"), key=("day", "id"), action="delete")
    assert lake.fetch_by_keys(node, [{"day": 2, "id": 5}, {"day": 1, "id": 5}]) == [
        {"id": 5, "day": 2}
    ]
    assert lake.delete(node, [{"day": 1, "id": 5}]) == rewrote(0)
    assert lake.delete(node, [{"day": 2, "id": 5}, {"day": 3, "id": 10}]) == rewrote(
        2, "web/page_views/day=2/part-0.parquet", "web/page_views/day=3/part-0.parquet"
    )
    left = ds.dataset(str(base), partitioning="hive").to_table().column("id").to_pylist()
    assert sorted(left) == [i for i in range(1, 14) if i not in (5, 10)]


def test_bad_root_and_paths(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = ParquetLakeConnector(ParquetConfig(root=str(tmp_path / "nope")))
    with pytest.raises(ConnectorFailure, match="root directory does not exist"):
        missing.check()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConnectorFailure, match="does not exist"):
        ParquetLakeConnector(ParquetConfig(root=str(a_file))).check()
    _write_events(tmp_path)
    lake = _lake(tmp_path)
    with pytest.raises(ConnectorFailure, match="no directory"):
        lake.retrieve(_node("events:absent", ("id",)), {"id": [1]})
    escape = ParquetLakeConnector(ParquetConfig(root=str(tmp_path / "web")))
    with pytest.raises(ConnectorFailure, match="outside the lake root"):
        escape.retrieve(_node("events:..", ("id",)), {"id": [1]})
    (tmp_path / "web" / "page_views" / "day=1" / "part-0.parquet").write_bytes(b"not parquet")
    with caplog.at_level(logging.DEBUG), pytest.raises(ConnectorFailure) as broken:
        lake.retrieve(_node(ADDRESS, ("id",)), {"email": ["user7@example.com"]})
    assert "user7" not in str(broken.value)
    assert broken.value.retryable is False
    assert "user7" not in caplog.text
    with pytest.raises(InvalidInput):
        ConnectorRegistry([PARQUET_CONNECTOR]).create("parquet", {"root": ""})


def test_a_failure_in_a_later_file_replaces_no_file(tmp_path: Path) -> None:
    base = _write_events(tmp_path)
    lake = _lake(tmp_path)
    snapshot = _snapshot(base)
    node = _node(ADDRESS, ("id",), action="mask")
    # id 5 (day=2/part-0) is fine and written first; id 10 (day=3/part-0) cannot be masked.
    changes = [RowChange({"id": 5}, {"note": None}), RowChange({"id": 10}, {"amount": "x"})]
    with pytest.raises(ConnectorFailure, match="column amount"):
        lake.mask(node, changes)
    assert _snapshot(base) == snapshot, "no original replaced, no temporary file left"


def test_a_root_given_through_a_symlink_reports_paths_under_it(tmp_path: Path) -> None:
    _write_events(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    lake = _lake(tmp_path / "link")
    outcome = lake.delete(_node(ADDRESS, ("id",), action="delete"), [{"id": "5"}])
    assert outcome == rewrote(1, "web/page_views/day=2/part-0.parquet")


def test_the_receipt_names_the_files_an_erasure_rewrote(tmp_path: Path) -> None:
    _write_events(tmp_path / "lake")

    def field(name: str, category: str, **meta: object) -> dict[str, object]:
        return {"name": name, "data_categories": [category], "fides_meta": meta}

    views = {
        "name": "page_views",
        "fields": [
            field("id", "system.operations", primary_key=True, data_type="integer"),
            field("email", "user.contact.email", identity="email", data_type="string"),
            field("note", "user.content"),
        ],
        "fides_meta": {"rightsflow": {"erasure": "delete"}},
    }
    dataset = {"fides_key": "events", "name": "Events", "collections": [views]}
    system = {
        "key": "lake",
        "connector": "parquet",
        "datasets": ["events"],
        "config": {
            "root": str(tmp_path / "lake"),
            "collections": {"page_views": {"path": "web/page_views"}},
        },
    }
    files = {
        "events.yml": yaml.safe_dump({"dataset": [dataset]}, sort_keys=False),
        "systems.yml": yaml.safe_dump({"systems": [system]}, sort_keys=False),
    }
    with platform_for(tmp_path, files) as platform:
        new = requests.NewRequest("erasure", {"email": "user7@example.com"}, "gdpr", verified=True)
        outcome = run_request(platform, new)
    assert outcome.status == "completed", outcome.failure
    assert outcome.receipt is not None
    (line,) = outcome.receipt.lines
    assert (line.rows_deleted, line.recheck) == (1, "verified")
    assert line.evidence == {"files_rewritten": ["web/page_views/day=2/part-0.parquet"]}
