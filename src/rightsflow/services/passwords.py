"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106's low-memory profile,
t=3, m=64 MiB, p=4). Passwords never leave this module except as their hashes."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """Hashes and checks passwords. Thread-safe; each hash or check takes tens of
    milliseconds and 64 MiB on purpose, so call it off the event loop."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id by default
        # Checked against when a login is unknown, so that answer costs as long as a real one.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend the time a check takes, for a login that has no account."""
        self.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with weaker parameters than ours (rehash on login)."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
