"""API tokens: only a sha256 of each token is stored; the admin token is written to a file.

The admin token is the bootstrap owner credential of the embedded default. `rotate_admin_token`
replaces it: the new one is written to the token file (0600) and the old one is revoked in the
same transaction, so a running server (which reads the table on every request) takes the new
one at once and refuses the old one, without a restart.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.domain.records import AuditEvent
from rightsflow.storage.audit_repository import SqlAuditRepository
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


def rotate_admin_token(engine: Engine, token_file: Path, actor: str) -> None:
    """A new admin token in `token_file`; every older one is revoked. Audited (ids only)."""
    with engine.connect() as connection:  # leaving without commit rolls back
        take_write_lock(connection, "rightsflow.api_tokens")
        now = utcnow()
        revoked = connection.execute(
            api_tokens.update()
            .where(api_tokens.c.name == ADMIN_NAME, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        token, token_id = secrets.token_urlsafe(32), str(uuid.uuid4())
        connection.execute(
            api_tokens.insert().values(
                id=token_id,
                name=ADMIN_NAME,
                token_hash=token_digest(token),
                created_at=now,
                revoked_at=None,
            )
        )
        _audit_rotation(connection, now, actor, token_id, int(revoked))
        previous = token_file.read_bytes() if token_file.is_file() else None
        write_private_file(token_file, (token + "\n").encode())
        try:
            connection.commit()
        except BaseException:
            _restore(token_file, previous)
            raise


def _audit_rotation(
    connection: sa.Connection, now: datetime, actor: str, token_id: str, revoked: int
) -> None:
    event = AuditEvent(
        request_id="",  # about access, not about a privacy request
        action="admin_token.rotated",
        at=now,
        actor=actor,
        detail={"token_id": token_id, "revoked": revoked},
    )
    SqlAuditRepository(connection).append(event)


def _restore(token_file: Path, previous: bytes | None) -> None:
    with contextlib.suppress(OSError):
        if previous is None:
            token_file.unlink()
        else:
            write_private_file(token_file, previous)


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
