"""Access packages (already sealed) as files in the data dir: `<root>/<request_id>.bin`, 0600."""

from __future__ import annotations

import uuid
from pathlib import Path

from rightsflow.domain.errors import InvalidInput
from rightsflow.storage.private_files import write_private_file


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

    def put(self, request_id: str, sealed: bytes) -> None:
        write_private_file(self.path_for(request_id), sealed)

    def get(self, request_id: str) -> bytes | None:
        try:
            return self.path_for(request_id).read_bytes()
        except FileNotFoundError:
            return None
