"""The app schemathesis fuzzes: a real platform on a throwaway SQLite database (the shop data
map, the real vault, mail to the outbox directory) with DRP switched on for one agent, so every
route runs past its own checks. Workflows are recorded, not run: the fuzzing is about the API."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from nacl.signing import SigningKey

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, all_ok

OWNER_TOKEN = "schemathesis-owner-token"  # the bootstrap owner credential of this app
BUSINESS_ID = "RIGHTSFLOW_FUZZ_BUSINESS"
AGENT_ID = "FUZZ_AGENT"


def _agents_file(path: Path) -> Path:
    key = base64.b64encode(bytes(SigningKey.generate().verify_key)).decode()
    entry = {
        "id": AGENT_ID,
        "name": "Fuzzing agent",
        "verify_key": key,
        "web_url": "https://agent.example",
        "identity_assurance_url": "https://agent.example/identity",
        "technical_contact": "tech@agent.example",
        "business_contact": "biz@agent.example",
    }
    path.write_text(json.dumps([entry]))
    return path


@contextmanager
def fuzz_app(root: Path) -> Iterator[FastAPI]:
    _, mapdir = make_shop(root, customers=5)
    settings = Settings(
        data_dir=root / "data",
        datamap_dir=mapdir,
        drp_business_id=BUSINESS_ID,
        drp_agents_file=_agents_file(root / "agents.json"),
    )
    runtime = build_runtime(settings)
    deps = ApiDeps(
        platform=runtime.platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, OWNER_TOKEN),
        readiness=all_ok,
    )
    try:
        yield create_app(settings, deps)
    finally:
        runtime.close()
