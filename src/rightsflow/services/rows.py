"""Rows in and out of sealed JSON. Only this module knows how rows are serialised."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from rightsflow.domain.connector import Row
from rightsflow.services.ports import Vault


def _plain(value: object) -> Any:
    if isinstance(value, Decimal):
        # Exact, as text, without the column's padding zeros: 193.9500000000 -> "193.95".
        return format(value.normalize(), "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def to_json(rows: Sequence[Any] | dict[str, Any]) -> bytes:
    return json.dumps(rows, default=_plain, separators=(",", ":"), sort_keys=True).encode()


def seal_rows(vault: Vault, request_id: str, rows: Sequence[Row]) -> bytes:
    return vault.seal(request_id, to_json(rows))


def open_rows(vault: Vault, request_id: str, sealed: bytes | None) -> list[Row]:
    if not sealed:
        return []
    rows: list[Row] = json.loads(vault.open(request_id, sealed))
    return rows
