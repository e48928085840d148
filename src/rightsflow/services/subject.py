"""The data subject's sealed details: identities, and a rectification's new values.

Both are personal data, so they are stored only sealed under the request's key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from rightsflow.domain.rectification import Correction
from rightsflow.services.ports import Vault


@dataclass(frozen=True)
class Subject:
    identities: Mapping[str, str]
    corrections: Mapping[str, Correction] = field(default_factory=dict)


def seal_subject(vault: Vault, request_id: str, subject: Subject) -> bytes:
    doc = {"identities": dict(subject.identities), "corrections": dict(subject.corrections)}
    return vault.seal(request_id, json.dumps(doc, sort_keys=True).encode())


def open_subject(vault: Vault, request_id: str, sealed: bytes) -> Subject:
    doc = json.loads(vault.open(request_id, sealed))
    if "identities" not in doc:  # sealed before rectification existed: identities only
        return Subject(doc)
    return Subject(doc["identities"], doc.get("corrections") or {})
