"""The access and portability packages: a zip built from the sealed result pages, sealed in
chunks as it is written and stored as a stream, so no step holds the whole dataset in memory
and no plaintext copy touches the disk.

Entries, collections sorted by address, fixed timestamps (the same data gives the same zip):
- data.json: collection address -> list of projected rows;
- csv/<dataset>.<collection>.csv: one per collection, header = targeted field paths;
- index.html: human-readable, the first rows of each collection;
- manifest.json (portability only): format version, collections, row counts, generated time.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from itertools import chain

from rightsflow.domain.connector import Row
from rightsflow.domain.errors import Conflict, NotFound
from rightsflow.domain.plan import PlanNode
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.services import audit
from rightsflow.services.execution import load_plan
from rightsflow.services.package_files import (
    csv_file,
    csv_name,
    data_json,
    index_html,
    manifest,
)
from rightsflow.services.platform import Platform
from rightsflow.services.ports import ResultRepository, Vault
from rightsflow.services.rows import iter_rows, stored_pages

# Fixed timestamp inside the zip so the same data always gives the same bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_FLUSH_BYTES = 1024 * 1024


class _Sink:
    """A write-only file for ZipFile; `take()` hands over what was written since last time.

    Being unseekable makes zipfile stream each entry (sizes in data descriptors)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._buffer)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def zip_stream(entries: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[bytes]:
    """A deflated zip of (name, content pieces), produced piece by piece."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, pieces in entries:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as entry:
                for piece in pieces:
                    entry.write(piece)
                    if len(sink) >= _FLUSH_BYTES:
                        yield sink.take()
    yield sink.take()


class _Rows:
    """The retrieved rows of one collection, read page by page from the result repository."""

    def __init__(self, vault: Vault, results: ResultRepository, request_id: str) -> None:
        self._vault = vault
        self._results = results
        self._request_id = request_id

    def __call__(self, node: PlanNode) -> Iterator[Row]:
        pages = stored_pages(self._results, self._request_id, node.address)
        return iter_rows(self._vault, self._request_id, pages)


def _entries(
    platform: Platform,
    rows: _Rows,
    nodes: list[PlanNode],
    kind: RequestType,
    counts: dict[str, int],
) -> Iterator[tuple[str, Iterable[bytes]]]:
    yield "data.json", data_json(nodes, rows, counts)  # fills counts for what follows
    for node in nodes:
        yield csv_name(node), csv_file(node, rows(node))
    yield "index.html", (part.encode() for part in index_html(nodes, rows, counts))
    if kind is RequestType.PORTABILITY:
        yield "manifest.json", [manifest(nodes, counts, kind.value, platform.clock())]


def build(platform: Platform, request_id: str) -> int:
    """Assemble, seal and store the package; returns the number of rows in it."""
    plan = load_plan(platform, request_id)
    nodes = sorted((n for n in plan.nodes if n.action == "return"), key=lambda n: n.address)
    counts: dict[str, int] = {}
    with platform.uow() as uow:
        kind = uow.requests.get(request_id).type
        rows = _Rows(platform.vault, uow.results, request_id)
        archive = zip_stream(_entries(platform, rows, nodes, kind, counts))
        size = platform.packages.write(request_id, platform.vault.seal_stream(request_id, archive))
    total = sum(counts.values())
    with platform.uow() as uow:
        audit.record(uow, request_id, "package.built", platform.clock(), rows=total, bytes=size)
        uow.commit()
    return total


def check_ready(request: PrivacyRequest) -> None:
    """Conflict unless the request has a package to download (a completed access or
    portability request)."""
    if not request.type.reads_only:
        raise Conflict("only access and portability requests have a package")
    if request.status is not RequestStatus.COMPLETED:
        raise Conflict(f"the package is ready when the request completes ({request.status.value})")


def open_package(platform: Platform, request_id: str, actor: str) -> Iterator[bytes]:
    """The package's plaintext zip as chunks, for streaming to the subject; audited.

    The first chunk is opened (authenticated) before anything is recorded or returned, so a
    damaged or foreign package fails here rather than half-way through a download."""
    with platform.uow() as uow:
        check_ready(uow.requests.get(request_id))
        sealed = platform.packages.read(request_id)
        if sealed is None:
            raise NotFound("package not found")
        chunks = platform.vault.open_stream(request_id, sealed)
        first = next(chunks, b"")
        audit.record(uow, request_id, "package.downloaded", platform.clock(), actor=actor)
        uow.commit()
    return chain([first], chunks)


def download(platform: Platform, request_id: str, actor: str) -> bytes:
    """The whole package in memory: for tests and small packages; the API streams instead."""
    return b"".join(open_package(platform, request_id, actor))
