"""API tokens: only a sha256 of each token is stored; the admin token is written once to a file."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.storage.migrate import take_write_lock
from rightsflow.storage.tables import api_tokens, utcnow

ADMIN_NAME = "admin"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_admin_token(engine: Engine, token_file: Path) -> tuple[str | None, bool]:
    """Create an admin token when no active token exists.

    Returns (token, True) after creating one and writing it to `token_file` (mode 0600), or
    (None, False) when an active token already exists. The token itself is never stored.
    """
    with engine.connect() as connection:  # leaving without commit rolls back
        take_write_lock(connection, "rightsflow.api_tokens")
        active = connection.execute(
            sa.select(api_tokens.c.id).where(api_tokens.c.revoked_at.is_(None)).limit(1)
        ).first()
        if active is not None:
            return None, False
        token = secrets.token_urlsafe(32)
        connection.execute(
            api_tokens.insert().values(
                id=str(uuid.uuid4()),
                name=ADMIN_NAME,
                token_hash=token_digest(token),
                created_at=utcnow(),
                revoked_at=None,
            )
        )
        _write_secret_file(token_file, token + "\n")
        try:
            connection.commit()
        except BaseException:
            with contextlib.suppress(OSError):
                token_file.unlink()
            raise
    return token, True


def token_is_valid(engine: Engine, token: str) -> bool:
    """True when `token` matches an active (not revoked) token."""
    if not token:
        return False
    digest = token_digest(token)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.select(api_tokens.c.token_hash).where(
                api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
            )
        ).scalar_one_or_none()
    return stored is not None and hmac.compare_digest(stored, digest)


def _write_secret_file(path: Path, content: str) -> None:
    """Write `content` to `path` atomically, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
