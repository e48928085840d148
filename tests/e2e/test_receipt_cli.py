"""`rightsflow receipt verify` in a subprocess, on a receipt saved from the API: what a
regulator does offline with the receipt and the company's published key."""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.config import Settings
from rightsflow.services import execution
from rightsflow.storage.signing_keys import PUBLIC_KEY_FILE, FileSigningKey
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, TestClient, all_ok, make_platform

URL = "/api/v1/privacy-requests"


@dataclasses.dataclass
class Saved:
    data_dir: Path
    receipt: Path
    published: Path  # the PEM as GET /api/v1/receipt-signing-key serves it
    document: dict[str, object]


@pytest.fixture
def saved(tmp_path: Path) -> Saved:
    """The real app over in-memory stores, signing with the key in `tmp_path/data`."""
    data_dir = tmp_path / "data"
    platform, _ = make_platform()
    platform = dataclasses.replace(platform, signer=FileSigningKey(data_dir))
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    with TestClient(create_app(Settings(data_dir=data_dir), deps), headers=AUTH) as client:
        body = {
            "type": "erasure",
            "identities": {"email": "ada@example.com"},
            "regime": "gdpr",
            "identity_verified": True,
        }
        request_id = client.post(URL, json=body).json()["id"]
        execution.begin(platform, request_id)
        execution.finish(platform, request_id)
        answer = client.get(f"{URL}/{request_id}/receipt")
        assert answer.status_code == 200, answer.text
        published = tmp_path / "published.pem"
        published.write_text(client.get("/api/v1/receipt-signing-key").text)
    receipt = tmp_path / "receipt.json"
    receipt.write_bytes(answer.content)
    return Saved(data_dir, receipt, published, answer.json())


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "rightsflow.cli.main", "receipt", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _key_id(saved: Saved) -> str:
    signature = saved.document["signature"]
    assert isinstance(signature, dict)
    key_id: str = signature["key_id"]
    return key_id


def test_a_saved_receipt_verifies_against_the_published_key(saved: Saved, tmp_path: Path) -> None:
    request_id = saved.document["request_id"]
    expected = f"valid: receipt for request {request_id}, signed by key {_key_id(saved)} (pinned)"
    for how in (["--public-key", saved.published], ["--data-dir", saved.data_dir]):
        done = _cli("verify", saved.receipt, *how, cwd=tmp_path)
        assert (done.returncode, done.stdout.strip(), done.stderr) == (0, expected, "")


def test_a_tampered_copy_is_rejected(saved: Saved, tmp_path: Path) -> None:
    tampered = dict(saved.document) | {"verified": not saved.document["verified"]}
    copy = tmp_path / "tampered.json"
    copy.write_text(json.dumps(tampered, indent=2))
    done = _cli("verify", copy, "--public-key", saved.published, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.strip() == (
        "invalid: the signature does not match the document: it was changed after signing"
    )


def test_a_receipt_signed_by_another_key_is_rejected_when_pinned(
    saved: Saved, tmp_path: Path
) -> None:
    forger = FileSigningKey(tmp_path / "forger")
    forged = forger.sign({k: v for k, v in saved.document.items() if k != "signature"})
    copy = tmp_path / "forged.json"
    copy.write_text(json.dumps(forged))
    done = _cli("verify", copy, "--data-dir", saved.data_dir, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.strip() == (
        f"invalid: signed by key {forger.key_id()}, which is not a trusted key"
    )


def test_without_a_trusted_key_it_warns_that_the_signer_is_not_pinned(
    saved: Saved, tmp_path: Path
) -> None:
    done = _cli("verify", saved.receipt, cwd=tmp_path)  # no ./rightsflow-data here
    assert done.returncode == 0
    assert done.stdout.strip().endswith(f"signed by key {_key_id(saved)} (NOT pinned)")
    assert "warning:" in done.stderr
    assert _key_id(saved) in done.stderr


@pytest.mark.parametrize("content", [b"{ not json", b"\xff\xfe", b'{"a": 1, "a": 2}'])
def test_an_unreadable_receipt_exits_2(saved: Saved, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    for path in (bad, tmp_path / "missing.json"):
        done = _cli("verify", path, "--public-key", saved.published, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1


def test_public_key_prints_what_the_api_publishes(saved: Saved, tmp_path: Path) -> None:
    done = _cli("public-key", "--data-dir", saved.data_dir, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == saved.published.read_text()
    assert done.stdout == (saved.data_dir / PUBLIC_KEY_FILE).read_text()
    assert done.stderr.strip() == f"key id: {_key_id(saved)}"
    empty = _cli("public-key", "--data-dir", tmp_path / "none", cwd=tmp_path)
    assert empty.returncode == 1
    assert not (tmp_path / "none").exists()
