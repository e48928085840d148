"""Access packages (already sealed) as files in the data dir: `<root>/<request_id>.bin`, 0600.

Written and read as streams: a package may be far larger than memory."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from rightsflow.domain.errors import InvalidInput

READ_SIZE = 1024 * 1024


def _checked_id(request_id: str) -> str:
    """Only a canonical lowercase UUID ever becomes part of a path."""
    try:
        canonical = str(uuid.UUID(request_id))
    except (ValueError, TypeError, AttributeError):
        canonical = None
    if canonical != request_id:
        raise InvalidInput("request id must be a lowercase UUID", field="request_id")
    return canonical


class FilePackageStore:
    """The PackageStore port on a local directory (created 0700 on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, request_id: str) -> Path:
        return self.root / f"{_checked_id(request_id)}.bin"

    def write(self, request_id: str, chunks: Iterable[bytes]) -> int:
        """Stream into a private temp file, then rename over the old package: a reader sees
        the old package or the new one, never half of either; a failure leaves the old one."""
        path = self.path_for(request_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return size

    def read(self, request_id: str) -> Iterator[bytes] | None:
        path = self.path_for(request_id)
        if not path.is_file():
            return None
        return _chunks_of(path)

    def delete(self, request_id: str) -> bool:
        """Remove the package file; True if there was one. Its bytes are sealed under the
        request's data key, which the retention purge destroys as well."""
        try:
            self.path_for(request_id).unlink()
        except FileNotFoundError:
            return False
        return True


def _chunks_of(path: Path) -> Iterator[bytes]:
    # Opened on first use, so an iterator that is never consumed holds no file handle.
    with path.open("rb") as handle:
        while chunk := handle.read(READ_SIZE):
            yield chunk
