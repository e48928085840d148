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
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.transforms import IdentityTransform

from rightsflow.connectors.base import Row, RowChange
from rightsflow.connectors.iceberg_lake import ICEBERG_CONNECTOR, IcebergLakeConnector
from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.connectors.testing import CONTRACT_COLLECTIONS, run_contract
from rightsflow.domain.connector import WriteOutcome
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import IdentityInput, PlanNode
from tests.support.iceberg_lake import Lake, files_holding, make_lake

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


def _append_in_files(lake: Lake, name: str, rows: list[Row]) -> None:
    """One commit (snapshot, data file) per ROWS_PER_FILE rows: history to erase from."""
    table = lake.table(name)
    schema = table.schema().as_arrow()
    for start in range(0, len(rows), ROWS_PER_FILE):
        table.append(pa.Table.from_pylist(rows[start : start + ROWS_PER_FILE], schema=schema))


def _people(lake: Lake, partitioned: bool = False) -> list[Row]:
    """People 1-12 in three countries; the subject is id 7 (country "fr")."""
    spec = None
    if partitioned:
        spec = PartitionSpec(PartitionField(4, 1000, IdentityTransform(), "country"))
    lake.create("people", PEOPLE, spec)
    rows = [
        {
            "id": i,
            "email": SUBJECT_EMAIL if i == 7 else f"someone.number{i}@example.org",
            "name": SUBJECT_NAME if i == 7 else f"Person {i}",
            "country": ("de", "fr", "nl")[i % 3],
        }
        for i in range(1, 13)
    ]
    _append_in_files(lake, "people", rows)
    return rows


def _traces(lake: Lake) -> dict[str, list[str]]:
    # A string column's bound is a 16-character prefix: look for that too.
    return files_holding(lake, [SUBJECT_EMAIL, SUBJECT_EMAIL[:16], SUBJECT_NAME])


def _no_traces(lake: Lake) -> None:
    assert _traces(lake) == {SUBJECT_EMAIL: [], SUBJECT_EMAIL[:16]: [], SUBJECT_NAME: []}


# -- the contract ---------------------------------------------------------------------------


def _seeder(lake: Lake) -> tuple[Callable[[str, list[Row]], None], Callable[[str], list[Row]]]:
    def seed(address: str, rows: list[Row]) -> None:
        spec = next(c for c in CONTRACT_COLLECTIONS if c.address == address)
        fields = [
            pa.field(name, pa.int64() if kind is int else pa.string(), name not in spec.primary_key)
            for name, kind in spec.columns
        ]
        lake.create(spec.name, pa.schema(fields))
        _append_in_files(lake, spec.name, rows)

    def read_all(address: str) -> list[Row]:
        return lake.rows(address.split(":", 1)[1])

    return seed, read_all


def test_iceberg_connector_passes_the_contract(lake: Lake) -> None:
    seed, read_all = _seeder(lake)
    connector = lake.connector()
    try:
        run_contract(connector, seed, read_all, chunk_size=4)
    finally:
        connector.close()
    # Every erase left only its own result in the history.
    assert [len(lake.table(n).snapshots()) for n in ("customers", "orders")] == [1, 1]
