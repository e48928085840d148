"""Masking one value according to a rule. Pure and deterministic.

The same (rule, value, context, keys, salt) always gives the same result, so an erase retried
after a crash writes the same values again (that is how each row changes once). The caller
supplies `salt` per row and field, stable across retries (e.g. collection, primary key, path).

Uniqueness. Two rows masked on a `unique` column must not collide. `hash` is distinct per
input and `random`/`fixed` per salt, up to the bits that survive fitting the column: with `b`
bits and `n` rows the chance of any collision is at most n**2 / 2**(b + 1). We keep at least
64 bits (16 hex characters for `hash`, 11 alphanumerics for `random`, a 13-character base32
suffix for `fixed`): below 3 in 10,000 for 10**8 rows. `constraint_problems` warns when the
column is too short for that. Integers keep 32 bits (64 for BIGINT), so a unique INTEGER column
is warned about too: it collides around 77,000 rows.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.generalize import floor_number, truncate_date
from rightsflow.domain.masking_columns import Column, column_of
from rightsflow.domain.policy import DATE_GRANULARITIES, MaskRule, MaskStrategy

ENCRYPTED_PREFIX = "enc:v1:"
_NONCE, _TAG = 12, 16
_AAD = b"rightsflow/encrypt/v1"
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UNIQUE_HASH_CHARS = 16  # hex: 64 bits
UNIQUE_RANDOM_CHARS = 11  # base62: 65 bits
SUFFIX_CHARS = 13  # base32: 65 bits, after a "-"


class CannotMask(RightsflowError):
    """A rule cannot produce a value that fits the column. Names no value."""

    code = "cannot-mask"


class CannotReveal(RightsflowError):
    code = "cannot-reveal"


@dataclass(frozen=True)
class MaskContext:
    """What the data map knows about the column."""

    data_type: str | None = None  # fideslang: string, integer, float, boolean, object, object_id
    db_type: str | None = None  # native type text: "DATE", "VARCHAR(255)", "NUMERIC(10,2)"
    length: int | None = None
    unique: bool = False
    nullable: bool | None = None


@dataclass(frozen=True)
class MaskKeys:
    hash_key: bytes  # 32 bytes, managed by the platform
    encrypt_key: bytes  # 32 bytes, managed by the platform

    def __post_init__(self) -> None:
        if len(self.hash_key) != 32 or len(self.encrypt_key) != 32:
            raise ValueError("masking keys are 32 bytes each")

    def __repr__(self) -> str:
        return "MaskKeys(...)"  # never print key material


def masked_value(
    rule: MaskRule, value: object, *, context: MaskContext, keys: MaskKeys, salt: bytes
) -> object:
    """The value a field takes after erasure; raises CannotMask when the rule cannot fit."""
    if value is None or rule.strategy is MaskStrategy.NULL:
        return None
    column = column_of(context.data_type, context.db_type, context.length, value)
    if rule.strategy is MaskStrategy.DELETE:
        raise CannotMask("strategy 'delete' removes the row; it produces no value")
    if rule.strategy is MaskStrategy.FIXED:
        return _fixed(rule.value or "", value, column, context.unique, _digest(keys, salt))
    if rule.strategy is MaskStrategy.GENERALIZE:
        return _fit_exactly(_generalize(rule, value, column), column, "generalize")
    if rule.strategy is MaskStrategy.ENCRYPT:
        if column.kind not in ("string", "unknown"):
            raise CannotMask(f"strategy 'encrypt' needs a text column, not {column.kind}")
        return _fit_exactly(_encrypt(_text(value), keys, salt), column, "encrypt")
    if rule.strategy is MaskStrategy.HASH:
        digest = hmac.new(keys.hash_key, _text(value).encode(), hashlib.sha256).digest()
        return _derived(digest, value, column, digest.hex())
    digest = _digest(keys, salt, b"random")
    return _derived(digest, value, column, _random_text(digest, value, column, context.unique))


def reveal(value: str, keys: MaskKeys) -> str:
    """Undo `encrypt`. Raises CannotReveal on tampering, a wrong key or a foreign value."""
    if not value.startswith(ENCRYPTED_PREFIX):
        raise CannotReveal("not a value encrypted by the 'encrypt' strategy")
    body = value.removeprefix(ENCRYPTED_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise CannotReveal("encrypted value is malformed") from None
    if len(raw) < _NONCE + _TAG:
        raise CannotReveal("encrypted value is malformed")
    try:
        plain = AESGCM(keys.encrypt_key).decrypt(raw[:_NONCE], raw[_NONCE:], _AAD)
    except InvalidTag:
        raise CannotReveal(
            "encrypted value cannot be decrypted: it was altered or another key was used"
        ) from None
    return plain.decode()


def encrypted_length(plaintext_bytes: int) -> int:
    """Characters of `enc:v1:<base64url>` for a plaintext of that many UTF-8 bytes."""
    raw = _NONCE + plaintext_bytes + _TAG
    return len(ENCRYPTED_PREFIX) + (4 * raw + 2) // 3


def _encrypt(plaintext: str, keys: MaskKeys, salt: bytes) -> str:
    data = plaintext.encode()
    # A synthetic nonce (as in SIV): it repeats only when salt and plaintext both repeat, and
    # then the whole ciphertext repeats, which is exactly the determinism retries need. The
    # nonce comes from an HKDF subkey, not HMAC(encrypt_key, ...): while the platform passes
    # one key as both hash and encrypt key, `hash` of some value could otherwise reveal it.
    nonce_key = _nonce_key(keys.encrypt_key)
    nonce = hmac.new(nonce_key, _framed(salt) + data, hashlib.sha256).digest()[:_NONCE]
    sealed = AESGCM(keys.encrypt_key).encrypt(nonce, data, _AAD)
    return ENCRYPTED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


@functools.lru_cache(maxsize=8)
def _nonce_key(encrypt_key: bytes) -> bytes:
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"rightsflow/encrypt-nonce/v1")
    return hkdf.derive(encrypt_key)


def _framed(salt: bytes) -> bytes:
    # Length-prefixed, so (salt, plaintext) pairs cannot run into each other.
    return len(salt).to_bytes(4, "big") + salt


def _digest(keys: MaskKeys, salt: bytes, label: bytes = b"suffix") -> bytes:
    return hmac.new(keys.hash_key, b"rightsflow/" + label + b"\0" + salt, hashlib.sha256).digest()


def _text(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _fixed(text: str, value: object, column: Column, unique: bool, digest: bytes) -> object:
    converted = _fixed_for_kind(text, value, column.kind)
    if converted is not None:
        if unique:
            raise CannotMask(f"a fixed value on a unique {column.kind} column would collide")
        return converted
    if not unique:
        return _truncate(text, column.length)
    suffix = "-" + base64.b32encode(digest).decode().lower()[:SUFFIX_CHARS]
    if column.length is not None and column.length < len(suffix):
        raise CannotMask("the column is too short for a fixed value with a unique suffix")
    room = None if column.length is None else column.length - len(suffix)
    return _truncate(text, room) + suffix


def _fixed_for_kind(text: str, value: object, kind: str) -> object:
    """The fixed text as the column's kind; None for text columns (it stays text)."""
    try:
        if kind == "integer":
            return _like(int(text), value, kind)
        if kind == "number":
            return _like(Decimal(text), value, kind)
        if kind == "boolean":
            return {"true": True, "false": False}[text.strip().lower()]
        if kind in ("date", "datetime"):
            parsed = (datetime if kind == "datetime" else date).fromisoformat(text)
            return parsed if isinstance(value, date) else text
        if kind == "uuid":
            return str(uuid.UUID(text))
    except (ValueError, ArithmeticError, KeyError):
        raise CannotMask(f"the fixed value does not suit the {kind} column") from None
    return None


def _generalize(rule: MaskRule, value: object, column: Column) -> object:
    granularity = rule.granularity
    dates = granularity in DATE_GRANULARITIES
    wrong = ("integer", "number", "boolean") if dates else ("date", "datetime", "boolean")
    if column.kind in wrong:
        raise CannotMask(f"granularity '{granularity}' does not suit the {column.kind} column")
    try:
        if dates:
            return truncate_date(value, str(granularity))
        number = floor_number(value, float(granularity or 1))
    except (ValueError, TypeError) as exc:
        # The message says what the value is not, never what it is.
        raise CannotMask(f"strategy 'generalize' cannot apply: the value {exc}") from None
    if column.kind == "integer" and not isinstance(number, str | date):
        return int(number)
    return number


def _derived(digest: bytes, value: object, column: Column, text: str) -> object:
    """A hash or random result in the column's kind: a number for numbers, text otherwise."""
    kind = column.kind
    if kind in ("boolean", "date", "datetime"):
        raise CannotMask(f"strategies 'hash' and 'random' cannot produce a {kind}")
    if kind in ("integer", "number"):
        low, high = column.int_range
        number = low + int.from_bytes(digest[:16], "big") % (high - low + 1)
        return _like(number, value, kind)
    if kind == "uuid":
        return str(uuid.UUID(bytes=digest[:16]))
    return _truncate(text, column.length)


def _random_text(digest: bytes, value: object, column: Column, unique: bool) -> str:
    """Alphanumerics as long as the original text (longer on a unique column, for 64 bits)."""
    size = len(_text(value))
    if unique:
        size = max(size, UNIQUE_RANDOM_CHARS)
    if column.length is not None:
        size = min(size, column.length)
    out: list[str] = []
    block, counter = digest, 0
    while len(out) < size:
        # Rejection sampling: bytes of 248 and over would favour the first letters.
        out.extend(_ALPHANUMERIC[b % 62] for b in block if b < 248)
        counter += 1
        block = hmac.new(digest, counter.to_bytes(4, "big"), hashlib.sha256).digest()
    return "".join(out[:size])


def _like(number: Decimal | int, value: object, kind: str) -> object:
    """A number in the form the value came in (str stays str, Decimal stays Decimal), else the
    column's: int for integer columns, float for the others."""
    if isinstance(value, str):
        return format(number, "f") if isinstance(number, Decimal) else str(number)
    if isinstance(value, Decimal):
        return Decimal(number)
    if kind == "integer":
        return int(number)
    return float(number)


def _fit_exactly(out: object, column: Column, strategy: str) -> object:
    # These results cannot be cut short: a cut ciphertext or date would be garbage.
    if isinstance(out, str) and column.length is not None and len(out) > column.length:
        raise CannotMask(f"strategy '{strategy}' result does not fit the column's length")
    return out


def _truncate(text: str, length: int | None) -> str:
    return text[:length] if length is not None else text


def constraint_problems(rule: MaskRule, context: MaskContext) -> list[str]:
    """Why the rule cannot fit the column, in words for `datamap validate` (never values)."""
    column = column_of(context.data_type, context.db_type, context.length)
    strategy = rule.strategy
    if strategy is MaskStrategy.NULL:
        null_ok = context.nullable is not False
        return [] if null_ok else ["strategy 'null' on a NOT NULL column: use another strategy"]
    if strategy is MaskStrategy.FIXED:
        return _check_fixed(rule.value or "", context.unique, column)
    if strategy in (MaskStrategy.RANDOM, MaskStrategy.HASH):
        return _check_derived(strategy, context.unique, column)
    if strategy is MaskStrategy.ENCRYPT:
        return _check_encrypt(column)
    if strategy is MaskStrategy.GENERALIZE:
        return _check_generalize(rule.granularity, context.db_type, column)
    return []


def _check_fixed(text: str, unique: bool, column: Column) -> list[str]:
    kind, length = column.kind, column.length
    try:
        converted = _fixed_for_kind(text, text, kind)
    except CannotMask as exc:
        return [str(exc)]
    problems = []
    if kind == "integer" and not column.int_range[0] <= int(text) <= column.int_range[1]:
        problems.append("the fixed value is out of the integer column's range")
    if converted is not None and unique:
        problems.append(f"a fixed value on a unique {kind} column would collide")
    need = SUFFIX_CHARS + 1 + min(len(text), 1)
    if converted is None and unique and length is not None and length < need:
        problems.append(
            f"a unique column of length {length} leaves no room for the fixed value and its "
            f"unique suffix (needs {need} characters)"
        )
    if converted is None and not unique and length is not None and len(text) > length:
        problems.append(f"the fixed value is longer than the column's length {length}")
    return problems


def _check_derived(strategy: MaskStrategy, unique: bool, column: Column) -> list[str]:
    name, kind = strategy.value, column.kind
    if kind in ("boolean", "date", "datetime"):
        return [f"strategy '{name}' cannot produce a {kind}: use 'null', 'fixed' or 'generalize'"]
    if not unique:
        return []
    if kind in ("integer", "number"):
        span = column.int_range[1] - column.int_range[0] + 1
        rows = int(1.18 * span**0.5)  # the birthday bound: even odds of one collision
        if span >= 2**64:
            return []
        return [
            f"strategy '{name}' on a unique {kind} column: masked numbers collide with even "
            f"odds past about {rows:,} rows (use 'delete' or a wider column)"
        ]
    need = UNIQUE_HASH_CHARS if strategy is MaskStrategy.HASH else UNIQUE_RANDOM_CHARS
    if kind in ("string", "unknown") and column.length is not None and column.length < need:
        return [
            f"strategy '{name}' on a unique column of length {column.length} keeps fewer than "
            f"64 bits, so rows may collide (needs {need} characters)"
        ]
    return []


def _check_encrypt(column: Column) -> list[str]:
    if column.kind not in ("string", "unknown"):
        return [f"strategy 'encrypt' needs a text column, not {column.kind}"]
    length = column.length
    if length is None:
        return []
    fits = max((n for n in range(length + 1) if encrypted_length(n) <= length), default=-1)
    if fits < 1:
        return [
            f"the column's length {length} is too short for any ciphertext "
            f"(needs at least {encrypted_length(1)} characters)"
        ]
    return [
        f"values over {fits} bytes will not fit the column's length {length} once encrypted "
        "(the ciphertext is 4/3 of the text plus about 45 characters)"
    ]


def _check_generalize(granularity: object, db_type: str | None, column: Column) -> list[str]:
    kind, dates = column.kind, granularity in DATE_GRANULARITIES
    problem = None
    if kind in ("boolean", "uuid"):
        problem = f"strategy 'generalize' needs a date or number column, not {kind}"
    elif dates and kind in ("integer", "number"):
        problem = f"granularity '{granularity}' is for dates; this column is {kind}"
    elif not dates and kind in ("date", "datetime"):
        problem = f"a numeric granularity is for numbers; this column is {kind}"
    elif kind == "integer" and not float(str(granularity)).is_integer():
        problem = "an integer column needs a whole-number granularity"
    elif kind == "string" and db_type is not None:
        problem = (
            f"strategy 'generalize' on a text column ({db_type}) works only on ISO dates or "
            "decimal numbers stored as text"
        )
    return [problem] if problem else []
