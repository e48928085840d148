"""Mail as files in the data dir (the embedded default): one RFC 5322 `.eml` per message,
written atomically, readable by any mail client, easy for a test or an operator to inspect."""

from __future__ import annotations

import threading
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

SENDER = "rightsflow@localhost"


class FileOutbox:
    def __init__(self, directory: Path, sender: str = SENDER) -> None:
        self._dir = directory
        self._sender = sender
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message.set_content(body)
        with self._lock:
            self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = f"{uuid.uuid4().hex}.eml"
            tmp = self._dir / f".{name}.tmp"
            tmp.write_bytes(bytes(message))
            tmp.replace(self._dir / name)

    def messages(self) -> list[EmailMessage]:
        """Every message sent so far, oldest first (by file time)."""
        files = sorted(self._dir.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
        out = []
        for f in files:
            parsed = message_from_bytes(f.read_bytes(), policy=policy.default)
            assert isinstance(parsed, EmailMessage)  # noqa: S101 (policy.default makes these)
            out.append(parsed)
        return out
