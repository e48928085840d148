"""The verification code in the newest mail to a subject in a file outbox (mail without SMTP)."""

from __future__ import annotations

import re
from pathlib import Path

from rightsflow.storage.outbox import FileOutbox

_CODE = re.compile(r"\b(\d{6})\b")


def code_in_outbox(outbox_dir: Path, email: str) -> str:
    for mail in reversed(FileOutbox(outbox_dir).messages()):
        if mail["To"] == email and "verification" in mail["Subject"].lower():
            found = _CODE.search(str(mail.get_body(("plain",)).get_content()))
            assert found is not None
            return found.group(1)
    raise AssertionError("no code was mailed")
