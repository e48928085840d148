"""Writing files only their owner can read, atomically: a reader sees the old file or the new
one, never half of either, and a crash leaves at most a stray temp file."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private_file(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Write `data` to `path` with mode 0600 (directory 0700 if created).

    With `overwrite=False` an existing file wins: two processes racing to create a key end up
    sharing the first one's."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            tmp.replace(path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
