"""After an erase: make the old rows unreachable in table history, then physically gone.

A row-level delete in Iceberg only writes a new snapshot: the data files holding the rows stay
on disk for every older snapshot, and the manifest of the delete itself keeps a DELETED entry
for each removed file, column bounds included (a bound of a string column is a prefix of a
real value). PyIceberg 0.12 can expire snapshots (metadata only) but deletes no file and has no
orphan-file removal, so this module does the rest with PyIceberg's metadata APIs:

1. `scrub`: if the current snapshot lists manifests with DELETED entries, commit an append of
   nothing whose manifest list drops delete-only manifests and rewrites mixed ones with their
   live entries only (what Java's RewriteManifests does for this purpose).
2. Expire every snapshot but the newest `retain_last` of the main branch (snapshots that a tag
   or another branch points at are kept: PyIceberg refuses to expire them).
3. Delete every file the expired snapshots used that no remaining snapshot uses (manifest
   lists, manifests, data and delete files, statistics), and the previous metadata versions.
4. Optionally, delete orphans: files under the table's (local) location that nothing
   references and that are older than a grace period (younger ones may belong to a writer
   that has not committed yet).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pafs  # type: ignore[import-untyped]
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestContent, ManifestEntry, ManifestEntryStatus, ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Operation, Snapshot
from pyiceberg.table.update.snapshot import _FastAppendFiles

# Only files of these kinds are ever considered orphans (never a catalog or marker file).
_TABLE_FILE_SUFFIXES = (".parquet", ".avro", ".orc", ".puffin", ".metadata.json")


@dataclass(frozen=True)
class Retention:
    retain_last: int = 1
    remove_orphan_files: bool = True
    orphan_min_age_seconds: int = 3600


@dataclass(frozen=True)
class Purge:
    """What a purge did: snapshots expired, files deleted (locations as the table names
    them), and older snapshots still referencing a file that held erased rows."""

    expired: tuple[int, ...]
    removed: tuple[str, ...]
    retained: tuple[int, ...]


def purge_history(table: Table, retention: Retention, held: Collection[str] = ()) -> Purge:
    """Scrub, expire and delete as the module says; `held` are the data files that held the
    erased rows (to report retained snapshots that still reference one). Idempotent: run
    again, it finds nothing left to do, so a retry after a crash finishes the job."""
    scrub(table)
    doomed = _expirable(table.metadata, retention.retain_last)
    reader = _ManifestReader(table.io)
    old = reader.files(_snapshots(table.metadata, doomed), live_only=False)
    old |= _statistics(table.metadata, doomed)
    if doomed:
        table.maintenance.expire_snapshots().by_ids(sorted(doomed)).commit()
    table.refresh()
    metadata = table.metadata
    referenced = reader.files(metadata.snapshots, live_only=True)
    referenced |= _statistics(metadata, None) | {table.metadata_location}
    old |= {entry.metadata_file for entry in metadata.metadata_log}
    removed = _delete(table.io, sorted(old - referenced))
    if retention.remove_orphan_files:
        removed += _remove_orphans(table, referenced, retention.orphan_min_age_seconds)
    current = metadata.current_snapshot_id
    held_now = {normal_location(path) for path in held}
    retained = tuple(
        snapshot.snapshot_id
        for snapshot in metadata.snapshots
        if snapshot.snapshot_id != current
        and held_now & {normal_location(f) for f in reader.files([snapshot], live_only=True)}
    )
    return Purge(tuple(sorted(doomed)), tuple(removed), retained)


def live_data_files(table: Table) -> set[str]:
    """The data files the current snapshot reads."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return set()
    return {
        entry.data_file.file_path
        for manifest in snapshot.manifests(table.io)
        if manifest.content == ManifestContent.DATA
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    }


def scrub(table: Table) -> bool:
    """Commit an empty append that leaves DELETED manifest entries behind, if the current
    snapshot lists any; True if it committed."""
    snapshot = table.current_snapshot()
    if snapshot is None or not any(_has_deleted(m) for m in snapshot.manifests(table.io)):
        return False
    with table.transaction() as tx:
        _ScrubManifests(operation=Operation.APPEND, transaction=tx, io=table.io).commit()
    return True


def _has_deleted(manifest: ManifestFile) -> bool:
    # An unknown count (format v1 writers may omit it) is checked by reading the entries.
    return manifest.content == ManifestContent.DATA and manifest.deleted_files_count != 0


class _ScrubManifests(_FastAppendFiles):
    """A fast append (of no file) whose existing manifests carry live entries only."""

    def _existing_manifests(self) -> list[ManifestFile]:
        parent_id = self._parent_snapshot_id
        parent = (
            None
            if parent_id is None
            else self._transaction.table_metadata.snapshot_by_id(parent_id)
        )
        if parent is None:
            return []
        kept: list[ManifestFile] = []
        for manifest in parent.manifests(io=self._io):
            if not _has_deleted(manifest):
                kept.append(manifest)
                continue
            entries = manifest.fetch_manifest_entry(io=self._io, discard_deleted=False)
            if all(e.status != ManifestEntryStatus.DELETED for e in entries):
                kept.append(manifest)
                continue
            live = [e for e in entries if e.status != ManifestEntryStatus.DELETED]
            if live:
                kept.append(self._rewrite(manifest, live))
        return kept

    def _rewrite(self, manifest: ManifestFile, live: list[ManifestEntry]) -> ManifestFile:
        with self.new_manifest_writer(spec=self.spec(manifest.partition_spec_id)) as writer:
            for entry in live:
                # Carried over, not added now: EXISTING with the entry's own ids and numbers.
                writer.add_entry(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.EXISTING,
                        snapshot_id=entry.snapshot_id,
                        sequence_number=entry.sequence_number,
                        file_sequence_number=entry.file_sequence_number,
                        data_file=entry.data_file,
                    )
                )
        return writer.to_manifest_file()


def _expirable(metadata: TableMetadata, retain_last: int) -> set[int]:
    """Every snapshot but the newest `retain_last` ancestors of the main branch's head and
    the heads of tags and branches (which PyIceberg would refuse to expire)."""
    keep: set[int] = set()
    snapshot = metadata.current_snapshot()
    while snapshot is not None and len(keep) < retain_last:
        keep.add(snapshot.snapshot_id)
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    keep |= {ref.snapshot_id for ref in metadata.refs.values()}
    return {s.snapshot_id for s in metadata.snapshots} - keep


def _snapshots(metadata: TableMetadata, ids: Iterable[int]) -> list[Snapshot]:
    found = (metadata.snapshot_by_id(i) for i in ids)
    return [snapshot for snapshot in found if snapshot is not None]


def _statistics(metadata: TableMetadata, ids: Collection[int] | None) -> set[str]:
    files = [*metadata.statistics, *metadata.partition_statistics]
    return {f.statistics_path for f in files if ids is None or f.snapshot_id in ids}


class _ManifestReader:
    """Reads each manifest once per purge (snapshots share most of their manifests)."""

    def __init__(self, io: FileIO) -> None:
        self._io = io
        self._entries: dict[tuple[str, bool], set[str]] = {}

    def files(self, snapshots: Iterable[Snapshot], *, live_only: bool) -> set[str]:
        """Manifest lists, manifests and content files of `snapshots`; with `live_only`, files
        a snapshot lists as DELETED (not needed to read it) are left out."""
        out: set[str] = set()
        for snapshot in snapshots:
            out.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(self._io):
                out.add(manifest.manifest_path)
                out |= self._content(manifest, live_only)
        return out

    def _content(self, manifest: ManifestFile, live_only: bool) -> set[str]:
        key = (manifest.manifest_path, live_only)
        if key not in self._entries:
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=live_only)
            self._entries[key] = {entry.data_file.file_path for entry in entries}
        return self._entries[key]


def _delete(io: FileIO, locations: Iterable[str]) -> list[str]:
    """Delete each file; one already gone (a retried purge) is not an error."""
    removed = []
    for location in locations:
        try:
            io.delete(location)
        except FileNotFoundError:
            continue
        removed.append(location)
    return removed


def _remove_orphans(table: Table, referenced: Collection[str], min_age_seconds: int) -> list[str]:
    """Delete unreferenced table files older than the grace period under a local location."""
    location = urlparse(table.location())
    if location.scheme not in ("", "file"):
        return []  # listing a remote store needs its credentials: not done here
    keep = {normal_location(path) for path in referenced}
    cutoff = time.time() - min_age_seconds
    selector = pafs.FileSelector(location.path, recursive=True, allow_not_found=True)
    orphans = [
        info.path
        for info in pafs.LocalFileSystem().get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.path.endswith(_TABLE_FILE_SUFFIXES)
        and info.path not in keep
        and info.mtime.timestamp() <= cutoff
    ]
    return _delete(table.io, sorted(orphans))


def normal_location(location: str) -> str:
    """A location as a comparable path: `file:///a/b` and `/a/b` are the same file."""
    parsed = urlparse(location)
    return parsed.path if parsed.scheme in ("", "file") else f"{parsed.netloc}{parsed.path}"
