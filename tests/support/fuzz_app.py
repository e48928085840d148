"""The app schemathesis fuzzes: a real platform on a throwaway SQLite database (the shop data
map, the real vault, mail to the outbox directory) with DRP switched on for one agent, OAuth2
clients and console sessions, so every route runs past its own checks. Workflows are recorded,
not run: the fuzzing is about the API."""

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
from rightsflow.api.client_tokens import ClientTokens
from rightsflow.api.deps import ApiDeps
from rightsflow.api.sessions import ConsoleSessions
from rightsflow.bootstrap import build_runtime, client_service
from rightsflow.cli.users_cmd import people_for
from rightsflow.config import Settings
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, all_ok

OWNER_TOKEN = "schemathesis-owner-token"  # the bootstrap owner credential of this app
BUSINESS_ID = "RIGHTSFLOW_FUZZ_BUSINESS"
AGENT_ID = "FUZZ_AGENT"
_RATE_LIMITS = (
    "rate_limit_public",
    "rate_limit_code",
    "rate_limit_login",
    "rate_limit_drp",
    "rate_limit_principal",
)


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
        # The limiters stay in the path, but one fuzzing client sends thousands of requests:
        # at the default limits every check would soon see only 429s.
        **dict.fromkeys(_RATE_LIMITS, "1000000/minute"),
    )
    runtime = build_runtime(settings)
    deps = ApiDeps(
        platform=runtime.platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, OWNER_TOKEN),
        readiness=all_ok,
        # OAuth2 clients and console sessions as `serve` wires them (cli/runner.py), so the
        # token endpoint, session and people routes run for real too.
        tokens=ClientTokens(client_service(settings, runtime.engine)),
        sessions=ConsoleSessions(
            people_for(settings, runtime.engine, runtime.platform.clock), settings.api_base_url
        ),
    )
    try:
        yield create_app(settings, deps)
    finally:
        runtime.close()
