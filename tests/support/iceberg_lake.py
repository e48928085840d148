"""A real Iceberg warehouse for tests (SQLite SQL catalog, local files), and a forensic reader
that decodes every file under it (Parquet pages and statistics, Avro manifests, metadata
JSON) so a test can tell whether a value survives anywhere in table history."""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from rightsflow.connectors.base import Row
from rightsflow.connectors.iceberg_lake import IcebergConfig, IcebergLakeConnector
from rightsflow.connectors.testing import CONTRACT_COLLECTIONS, ReadAll, Seed

NAMESPACE = "lake"


@dataclass
class Lake:
    root: Path  # holds catalog.db (unless the catalog is elsewhere) and warehouse/
    catalog: SqlCatalog
    catalog_uri: str | None = None

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def uri(self) -> str:
        return self.catalog_uri or f"sqlite:///{self.root / 'catalog.db'}"

    def config(self, **extra: Any) -> IcebergConfig:
        return IcebergConfig.model_validate(
            {
                "catalog_name": "test",
                "catalog_uri": self.uri,
                "warehouse": str(self.warehouse),
                "namespace": NAMESPACE,
            }
            | extra
        )

    def connector(self, **extra: Any) -> IcebergLakeConnector:
        return IcebergLakeConnector(self.config(**extra))

    def create(self, name: str, schema: pa.Schema) -> Table:
        return self.catalog.create_table((NAMESPACE, name), schema=schema)

    def table(self, name: str) -> Table:
        return self.catalog.load_table((NAMESPACE, name))

    def rows(self, name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.table(name).scan().to_arrow().to_pylist()
        return rows

    def files(self) -> dict[str, bytes]:
        """Every file under the warehouse, by relative path, with its raw bytes."""
        return {
            p.relative_to(self.warehouse).as_posix(): p.read_bytes()
            for p in sorted(self.warehouse.rglob("*"))
            if p.is_file()
        }


def make_lake(root: Path, catalog_uri: str | None = None) -> Lake:
    """A warehouse under `root`, its catalog in SQLite there or at `catalog_uri`."""
    (root / "warehouse").mkdir(parents=True)
    uri = catalog_uri or f"sqlite:///{root / 'catalog.db'}"
    catalog = SqlCatalog("test", uri=uri, warehouse=(root / "warehouse").as_uri())
    catalog.create_namespace(NAMESPACE)
    return Lake(root, catalog, catalog_uri)


def append_in_files(lake: Lake, name: str, rows: list[Row], per_file: int = 5) -> None:
    """One commit (snapshot, data file) per `per_file` rows: history to erase from."""
    table = lake.table(name)
    schema = table.schema().as_arrow()
    for start in range(0, len(rows), per_file):
        table.append(pa.Table.from_pylist(rows[start : start + per_file], schema=schema))


def contract_storage(lake: Lake, per_file: int) -> tuple[Seed, ReadAll]:
    """`seed` and `read_all` for run_contract: a table per fixture collection, many files."""

    def seed(address: str, rows: list[Row]) -> None:
        spec = next(c for c in CONTRACT_COLLECTIONS if c.address == address)
        fields = [
            pa.field(name, pa.int64() if kind is int else pa.string(), name not in spec.primary_key)
            for name, kind in spec.columns
        ]
        lake.create(spec.name, pa.schema(fields))
        append_in_files(lake, spec.name, rows, per_file)

    def read_all(address: str) -> list[Row]:
        return lake.rows(address.split(":", 1)[1])

    return seed, read_all


def files_holding(lake: Lake, needles: list[str]) -> dict[str, list[str]]:
    """For each needle, the warehouse files whose decoded content holds it."""
    decoded = {path: _decoded(path, data) for path, data in lake.files().items()}
    return {
        needle: sorted(p for p, text in decoded.items() if needle.encode() in text)
        for needle in needles
    }


def _decoded(path: str, data: bytes) -> bytes:
    """Raw bytes plus everything the file holds once decompressed."""
    if path.endswith(".parquet"):
        return data + _parquet_text(data)
    if path.endswith(".avro"):
        return data + _avro_blocks(data)
    if path.endswith(".gz.metadata.json"):
        return data + gzip.decompress(data)
    return data


def _parquet_text(data: bytes) -> bytes:
    parquet = pq.ParquetFile(io.BytesIO(data))
    parts = [repr(parquet.read().to_pylist())]
    meta = parquet.metadata
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            stats = meta.row_group(g).column(c).statistics
            if stats is not None and stats.has_min_max:
                parts.append(f"{stats.min!r} {stats.max!r}")
    return "\n".join(parts).encode()


def _avro_blocks(data: bytes) -> bytes:
    """The decompressed data blocks of an Avro object container file."""
    assert data[:4] == b"Obj\x01", "not an Avro container"
    pos = 4
    meta: dict[str, bytes] = {}
    while True:  # the header's metadata map: blocks of (key, value) pairs until 0
        count, pos = _long(data, pos)
        if count == 0:
            break
        if count < 0:
            count = -count
            _, pos = _long(data, pos)  # block size in bytes
        for _ in range(count):
            key, pos = _bytes(data, pos)
            value, pos = _bytes(data, pos)
            meta[key.decode()] = value
    pos += 16  # sync marker
    codec = meta.get("avro.codec", b"null").decode()
    out = []
    while pos < len(data):
        _, pos = _long(data, pos)  # objects in the block
        size, pos = _long(data, pos)
        block = data[pos : pos + size]
        pos += size + 16
        out.append(_decompress(codec, block))
    return b"".join(out)


def _decompress(codec: str, block: bytes) -> bytes:
    if codec == "null":
        return block
    if codec == "deflate":
        return zlib.decompress(block, -15)
    if codec == "zstandard":
        return zstandard.ZstdDecompressor().decompressobj().decompress(block)
    raise AssertionError(f"unexpected Avro codec {codec}")


def _long(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos


def _bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = _long(data, pos)
    return data[pos : pos + size], pos + size
