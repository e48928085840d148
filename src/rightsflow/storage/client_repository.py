"""OAuth2 clients and their secrets in SQL (tables oauth_clients, client_secrets).

`SqlClientStore.begin()` opens one transaction with the client repository and the audit trail
on the same connection, so a change and its audit event commit together or not at all.
Only hashes of secrets are stored (see services/clients.py for why sha256 is enough).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from rightsflow.domain.access import Scope
from rightsflow.domain.clients import ClientSecretInfo, OAuthClient
from rightsflow.storage.tables import client_secrets, oauth_clients
from rightsflow.storage.transaction import AuditedTransaction

_c = oauth_clients.c
_s = client_secrets.c


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(_s.revoked_at.is_(None), sa.or_(_s.expires_at.is_(None), _s.expires_at > now))


class SqlClientRepository:
    """Satisfies services.clients.ClientRepository over one connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, client: OAuthClient) -> None:
        self._conn.execute(
            oauth_clients.insert().values(
                id=client.id,
                name=client.name,
                scopes=sorted(s.value for s in client.scopes),
                created_at=client.created_at,
                created_by=client.created_by,
                revoked_at=client.revoked_at,
            )
        )

    def get(self, client_id: str, now: datetime) -> OAuthClient | None:
        row = self._conn.execute(sa.select(oauth_clients).where(_c.id == client_id)).first()
        if row is None:
            return None
        return _client(row._mapping, self._secrets([client_id], now).get(client_id, ()))

    def list(self, now: datetime) -> Sequence[OAuthClient]:
        rows = self._conn.execute(sa.select(oauth_clients).order_by(_c.created_at, _c.id)).all()
        secrets = self._secrets([r.id for r in rows], now)
        return [_client(r._mapping, secrets.get(r.id, ())) for r in rows]

    def _secrets(
        self, client_ids: Sequence[str], now: datetime
    ) -> dict[str, tuple[ClientSecretInfo, ...]]:
        if not client_ids:
            return {}
        rows = self._conn.execute(
            sa.select(_s.id, _s.client_id, _s.created_at, _s.expires_at)
            .where(_s.client_id.in_(client_ids), _live(now))
            .order_by(_s.created_at, _s.id)
        ).all()
        found: dict[str, list[ClientSecretInfo]] = {}
        for r in rows:
            found.setdefault(r.client_id, []).append(
                ClientSecretInfo(r.id, r.created_at, r.expires_at)
            )
        return {key: tuple(value) for key, value in found.items()}

    def add_secret(self, client_id: str, secret_hash: str, now: datetime) -> str:
        secret_id = str(uuid.uuid4())
        self._conn.execute(
            client_secrets.insert().values(
                id=secret_id,
                client_id=client_id,
                secret_hash=secret_hash,
                created_at=now,
                expires_at=None,
                revoked_at=None,
            )
        )
        return secret_id

    def expire_secrets(self, client_id: str, until: datetime, now: datetime) -> int:
        """Live secrets of the client stop working at `until` (or earlier, if already due)."""
        result = self._conn.execute(
            client_secrets.update()
            .where(
                _s.client_id == client_id,
                _live(now),
                sa.or_(_s.expires_at.is_(None), _s.expires_at > until),
            )
            .values(expires_at=until)
        )
        return int(result.rowcount)

    def revoke(self, client_id: str, now: datetime) -> bool:
        """Revoke the client and all its secrets; False when it was not active."""
        result = self._conn.execute(
            oauth_clients.update()
            .where(_c.id == client_id, _c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self._conn.execute(
            client_secrets.update()
            .where(_s.client_id == client_id, _s.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    def client_for_secret(self, secret_hash: str, now: datetime) -> OAuthClient | None:
        """The active client a live secret belongs to (one index lookup by hash)."""
        row = self._conn.execute(
            sa.select(oauth_clients, _s.secret_hash)
            .join(client_secrets, _s.client_id == _c.id)
            .where(_s.secret_hash == secret_hash, _live(now), _c.revoked_at.is_(None))
        ).first()
        # The lookup is by equality on an index; compare again in constant time so the check
        # itself never depends on how much of the hash matched.
        if row is None or not hmac.compare_digest(row.secret_hash, secret_hash):
            return None
        return _client(row._mapping, ())

    def active_scopes(self, client_id: str) -> frozenset[Scope] | None:
        """The scopes of an active client; None when it is unknown or revoked."""
        scopes = self._conn.execute(
            sa.select(_c.scopes).where(_c.id == client_id, _c.revoked_at.is_(None))
        ).scalar_one_or_none()
        return None if scopes is None else _scopes(scopes)


def _scopes(names: Sequence[str]) -> frozenset[Scope]:
    # A scope name this version does not know (written by a newer one) grants nothing here.
    known = {s.value for s in Scope}
    return frozenset(Scope(n) for n in names if n in known)


def _client(row: RowMapping, secrets: tuple[ClientSecretInfo, ...]) -> OAuthClient:
    return OAuthClient(
        id=row["id"],
        name=row["name"],
        scopes=_scopes(row["scopes"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
        revoked_at=row["revoked_at"],
        secrets=secrets,
    )


class SqlClientTransaction(AuditedTransaction):
    """One transaction: `clients` and `audit` over the same connection."""

    clients: SqlClientRepository

    def _bind(self, connection: Connection) -> None:
        self.clients = SqlClientRepository(connection)


class SqlClientStore:
    """Satisfies services.clients.ClientStore: a fresh transaction per use."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def begin(self) -> SqlClientTransaction:
        return SqlClientTransaction(self._engine)
