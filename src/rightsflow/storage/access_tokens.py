"""Signed access tokens (JWT, RFC 9068 profile) with keys in a file in the data dir.

`oauth-signing.keys` (mode 0600) holds JSON `{"keys": [{"kid": ..., "k": ...}]}`: the first key
signs, every key listed verifies, so a key can be rotated by putting a new one first and
dropping the old one once its tokens have expired (at most `access_token_ttl_s` later). The
file is created with one random 256-bit key on first use; if two processes race to create it,
both use the first one's.

HS256 (HMAC-SHA256): only this platform issues and checks these tokens, so a shared secret is
enough and no public key has to be published. Verification is strict: the algorithm is pinned
(a token naming another one, `none` included, is refused), `exp`, `iat`, `iss`, `aud`, `sub`,
`jti` and `scope` are required, issuer and audience must match, and the clock leeway is small.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jwt

from rightsflow.domain.access import Scope
from rightsflow.domain.clients import TokenClaims
from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.private_files import write_private_file

KEYS_FILE = "oauth-signing.keys"
ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068: an access token, not any other JWT)
LEEWAY_S = 5


@dataclass(frozen=True, repr=False)
class _Key:
    kid: str
    secret: bytes


class JwtAccessTokens:
    """Satisfies services.clients.TokenCodec. Reads (or creates) the key file on first use."""

    def __init__(self, keys_file: Path, *, issuer: str, audience: str) -> None:
        self.keys_file = keys_file
        self.issuer = issuer
        self.audience = audience
        self._keys: list[_Key] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JwtAccessTokens(keys_file={self.keys_file!r}, issuer={self.issuer!r})"

    def issue(self, client_id: str, scopes: frozenset[Scope], now: datetime, ttl_s: int) -> str:
        key = self._load()[0]
        issued = int(now.timestamp())
        claims = {
            "iss": self.issuer,
            "sub": client_id,
            "aud": self.audience,
            "client_id": client_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_s,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(sorted(s.value for s in scopes)),
        }
        headers = {"kid": key.kid, "typ": TOKEN_TYPE}
        return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers=headers)

    def verify(self, token: str) -> TokenClaims | None:
        """The claims of a valid token; None for anything else (never raises on bad input)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid = header.get("kid")
        key = next((k for k in self._load() if k.kid == kid), None)
        if key is None or header.get("typ") != TOKEN_TYPE or header.get("alg") != ALGORITHM:
            return None
        try:
            claims = jwt.decode(
                token,
                key.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "scope"]},
            )
        except jwt.PyJWTError:
            return None
        return _claims(claims)

    def ensure_keys(self) -> None:
        """Read the key file now, creating it if missing (a bad file stops a start early)."""
        self._load()

    def _load(self) -> list[_Key]:
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = _read_or_create(self.keys_file)
        return self._keys


def _claims(claims: dict[str, object]) -> TokenClaims | None:
    subject, scope = claims.get("sub"), claims.get("scope")
    if not isinstance(subject, str) or not isinstance(scope, str):
        return None
    known = {s.value for s in Scope}
    names = scope.split()
    if not names or any(n not in known for n in names):
        return None
    return TokenClaims(client_id=subject, scopes=frozenset(Scope(n) for n in names))


def _read_or_create(path: Path) -> list[_Key]:
    if not path.exists():
        kid = uuid.uuid4().hex[:16]
        k = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        document = {"keys": [{"kid": kid, "k": k}]}
        write_private_file(path, json.dumps(document).encode(), overwrite=False)
    try:
        document = json.loads(path.read_bytes())
        keys = [_Key(str(item["kid"]), _b64(str(item["k"]))) for item in document["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise RightsflowError(f"{path} is not a token signing key file") from exc
    if not keys or any(len(k.secret) < 32 for k in keys):
        raise RightsflowError(f"{path} must list keys of at least 256 bits")
    return keys


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
