"""Data Rights Protocol state: pair-wise agent tokens (as hashes), the signed messages seen
(to refuse replays until they expire), and what DRP adds to each request an agent sent.

The tables live in the shared `metadata` (migration 0005 creates them); they are declared here,
next to the only code that uses them.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rightsflow.domain.drp_status import DrpRequestRecord
from rightsflow.storage.tables import UtcDateTime, metadata, request_ref

# One row per paired agent: re-pairing replaces the token (the old one stops working).
drp_agents = sa.Table(
    "drp_agents",
    metadata,
    sa.Column("agent_id", sa.String(128), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex
    sa.Column("drp_version", sa.String(16), nullable=False),
    sa.Column("paired_at", UtcDateTime(), nullable=False),
)

# Signed messages already accepted, by the sha256 of their signed content, until they expire.
drp_messages = sa.Table(
    "drp_messages",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(128), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index(None, "expires_at"),
)

drp_requests = sa.Table(
    "drp_requests",
    metadata,
    request_ref(primary_key=True),
    sa.Column("agent_id", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("regime_given", sa.String(32), nullable=True),
    sa.Column("agent_request_id", sa.String(255), nullable=True),
    sa.Column("status_callback", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("notified", sa.String(64), nullable=True),  # fingerprint of the last status sent
    sa.Column("notified_at", UtcDateTime(), nullable=True),
    sa.Index(None, "agent_id"),
)

_COLUMNS = tuple(f.name for f in fields(DrpRequestRecord))


class SqlDrpRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def pair(self, agent_id: str, token_hash: str, version: str, at: datetime) -> None:
        """Store the agent's new token (hash), replacing any earlier one."""
        self._conn.execute(drp_agents.delete().where(drp_agents.c.agent_id == agent_id))
        self._conn.execute(
            drp_agents.insert().values(
                agent_id=agent_id, token_hash=token_hash, drp_version=version, paired_at=at
            )
        )

    def agent_for_token(self, token_hash: str) -> str | None:
        query = sa.select(drp_agents.c.agent_id).where(drp_agents.c.token_hash == token_hash)
        found: str | None = self._conn.execute(query).scalar()
        return found

    def remember_message(
        self, digest: str, agent_id: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Record a message as seen; False when it was seen before (and has not expired).
        Messages past their expiry are forgotten: they are refused as expired anyway."""
        self._conn.execute(drp_messages.delete().where(drp_messages.c.expires_at <= now))
        row = {"digest": digest, "agent_id": agent_id, "expires_at": expires_at}
        try:
            with self._conn.begin_nested():  # two copies at once: one insert wins
                self._conn.execute(drp_messages.insert().values(row))
        except IntegrityError:
            return False
        return True

    def add_request(self, record: DrpRequestRecord) -> None:
        values = {name: getattr(record, name) for name in _COLUMNS}
        self._conn.execute(drp_requests.insert().values(values))

    def request(self, request_id: str) -> DrpRequestRecord | None:
        query = sa.select(drp_requests).where(drp_requests.c.request_id == request_id)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else DrpRequestRecord(**{n: row[n] for n in _COLUMNS})

    def notified(self, request_id: str, fingerprint: str, at: datetime) -> None:
        self._conn.execute(
            drp_requests.update()
            .where(drp_requests.c.request_id == request_id)
            .values(notified=fingerprint, notified_at=at)
        )
