"""API tokens: only a sha256 of each token is stored; the admin token is written once to a file."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.storage.migrate import take_write_lock
from rightsflow.storage.private_files import write_private_file
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
        write_private_file(token_file, (token + "\n").encode())
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
