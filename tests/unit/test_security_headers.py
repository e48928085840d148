"""Security headers on every answer, the /docs page's own CSP, and strict CORS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.api.middleware import API_CSP
from rightsflow.config import Settings
from tests.unit.fakes import RecordingStarter, TestClient, all_ok, make_platform  # quiet import

TOKEN = "security-headers-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONSOLE = "https://console.example"


@contextmanager
def client(tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    deps = ApiDeps(
        make_platform()[0],
        RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    app = create_app(Settings(data_dir=tmp_path, **settings), deps)
    with TestClient(app) as test_client:
        yield test_client


def test_every_answer_carries_the_security_headers(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        for answer in (
            http.get("/healthz"),
            http.get("/api/v1/privacy-requests"),  # a 401 problem
            http.get("/api/v1/privacy-requests", headers=AUTH),
            http.get("/no/such/path"),
        ):
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.headers["Referrer-Policy"] == "no-referrer"
            assert answer.headers["X-Frame-Options"] == "DENY"
            assert answer.headers["Content-Security-Policy"] == API_CSP
            assert "camera=()" in answer.headers["Permissions-Policy"]
            assert "Strict-Transport-Security" not in answer.headers  # plain http public URL
        page = http.get("/privacy/")
        assert page.headers["content-type"].startswith("text/html")
        # A page's form posts must carry its real Origin (no-referrer would make it "null").
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["X-Frame-Options"] == "DENY"


def test_api_answers_are_not_stored(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        assert http.get("/api/v1/privacy-requests", headers=AUTH).headers["Cache-Control"] == (
            "no-store"
        )
        assert http.get("/api/v1/privacy-requests").headers["Cache-Control"] == "no-store"
        assert "Cache-Control" not in http.get("/healthz").headers


def test_hsts_when_the_public_url_is_https(tmp_path: Path) -> None:
    with client(tmp_path, public_url="https://privacy.example") as http:
        hsts = http.get("/healthz").headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=31536000")


def test_the_docs_page_allows_exactly_its_inline_script(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        page = http.get("/docs")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert "'unsafe-inline'" not in script_src
    assert "frame-ancestors 'none'" in csp
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert inline  # Swagger UI starts from an inline script
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "script-src https://cdn.jsdelivr.net 'sha256-" in csp
    assert page.headers["X-Frame-Options"] == "DENY"


def test_no_cors_without_configured_origins(tmp_path: Path) -> None:
    with client(tmp_path) as http:
        preflight = http.options(
            "/api/v1/privacy-requests",
            headers={"Origin": CONSOLE, "Access-Control-Request-Method": "GET"},
        )
        simple = http.get("/api/v1/privacy-requests", headers={**AUTH, "Origin": CONSOLE})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in simple.headers


def test_cors_answers_the_configured_origins_only(tmp_path: Path) -> None:
    with client(tmp_path, cors_origins=[CONSOLE]) as http:
        asked = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = http.options("/api/v1/privacy-requests", headers={"Origin": CONSOLE, **asked})
        other = http.options(
            "/api/v1/privacy-requests", headers={"Origin": "https://evil.example", **asked}
        )
        simple = http.get("/api/v1/privacy-requests", headers={**AUTH, "Origin": CONSOLE})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert other.status_code == 400
    assert "Access-Control-Allow-Origin" not in other.headers
    assert simple.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "X-Request-ID" in simple.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("origin", ["*", "https://console.example/", "console.example", "null"])
def test_origins_must_be_exact(origin: str) -> None:
    with pytest.raises(ValidationError):
        Settings(cors_origins=[origin])
