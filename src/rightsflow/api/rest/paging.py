"""Opaque list cursors: base64url of "<received_at ISO-8601>|<id>" of a page's last item."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import PrivacyRequest


def encode_cursor(last: PrivacyRequest) -> str:
    raw = f"{last.received_at.isoformat()}|{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises InvalidInput(field="cursor") for anything `encode_cursor` did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, request_id = raw.split("|")
        at = datetime.fromisoformat(at_text)
        request_id = str(uuid.UUID(request_id))
    except ValueError:  # bad base64 and bad UTF-8 are ValueErrors too
        raise InvalidInput("not a cursor returned by this API", field="cursor") from None
    if at.tzinfo is None:
        raise InvalidInput("not a cursor returned by this API", field="cursor")
    return at, request_id
