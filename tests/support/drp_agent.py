"""An authorized agent, written from the Data Rights Protocol 1.0 text (not from our server):
its own Ed25519 key (PyNaCl), its agents.json entry, and the signed calls of sections 2.01-2.06.

Signed bodies are libsodium "combined mode" (64-byte signature, then the JSON), base64, sent as
text/plain; everything after pairing carries `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nacl.signing import SigningKey

DRP_VERSION = "1.0"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


@dataclass
class DrpAgent:
    agent_id: str
    business_id: str
    client: httpx.Client
    key: SigningKey = field(default_factory=SigningKey.generate)
    token: str | None = None

    @property
    def verify_key(self) -> str:
        """Base64, as the service directory holds it (since DRP 0.9.1)."""
        return base64.b64encode(bytes(self.key.verify_key)).decode()

    def directory_entry(self, verify_key: str | None = None) -> dict[str, str]:
        return {
            "id": self.agent_id,
            "name": f"{self.agent_id} agent",
            "verify_key": verify_key or self.verify_key,
            "web_url": "https://agent.example",
            "identity_assurance_url": "https://agent.example/identity",
            "technical_contact": "tech@agent.example",
            "business_contact": "biz@agent.example",
        }

    def envelope(
        self, now: datetime | None = None, lifetime: timedelta = timedelta(minutes=10)
    ) -> dict[str, Any]:
        issued = now or datetime.now(UTC)
        return {
            "agent-id": self.agent_id,
            "business-id": self.business_id,
            "issued-at": iso(issued),
            "expires-at": iso(issued + lifetime),
        }

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> bytes:
        signed = (key or self.key).sign(json.dumps(claims).encode())  # signature + message
        return base64.b64encode(bytes(signed))

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"Content-Type": "text/plain"}
        given = token if token is not None else self.token
        if given:
            headers["Authorization"] = f"Bearer {given}"
        return headers

    def send(
        self, method: str, path: str, body: bytes | None = None, token: str | None = None
    ) -> httpx.Response:
        return self.client.request(method, path, content=body, headers=self._headers(token))

    def pair(self, claims: dict[str, Any] | None = None, body: bytes | None = None) -> Any:
        """2.05: POST /v1/agent/{agent-id}; keeps the token on success."""
        claims = claims if claims is not None else {**self.envelope(), "drp.version": DRP_VERSION}
        response = self.client.post(
            f"/v1/agent/{self.agent_id}",
            content=body if body is not None else self.sign(claims),
            headers={"Content-Type": "text/plain"},
        )
        if response.status_code == 200:
            self.token = response.json()["token"]
        return response

    def exercise_claims(self, action: str = "access", **extra: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            **self.envelope(),
            "drp.version": DRP_VERSION,
            "exercise": action,
            "regime": "ccpa",
            "relationships": ["customer"],
            "email": "ada@example.com",
            "email_verified": True,
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def exercise(self, action: str = "access", **extra: Any) -> httpx.Response:
        """2.01: POST /v1/data-rights-request."""
        body = self.sign(self.exercise_claims(action, **extra))
        return self.send("POST", "/v1/data-rights-request", body)

    def status(self, request_id: str, token: str | None = None) -> httpx.Response:
        return self.send("GET", f"/v1/data-rights-request/{request_id}", token=token)

    def revoke(self, request_id: str, claims: dict[str, Any] | None = None) -> httpx.Response:
        """2.04: DELETE with a signed `{"reason": ...}`."""
        body = self.sign(claims if claims is not None else {"reason": "changed my mind"})
        return self.send("DELETE", f"/v1/data-rights-request/{request_id}", body)


def write_directory(path: Path, entries: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps(entries, indent=2))
    return path
