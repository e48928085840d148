"""The embedded default end to end: `rightsflow demo` in a child process, driven over HTTP."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rightsflow.workflows.devserver import free_port
from tests.support.cli_server import cli_server
from tests.support.outbox_codes import code_in_outbox

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
SUBJECT = "customer0000011@shop.example"
FORGOTTEN = "customer0000012@shop.example"
DATA_DIRS: dict[httpx.Client, Path] = {}  # the demo's data dir (mail lands in its outbox)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    data_dir = tmp_path_factory.mktemp("demo")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["demo", "--data-dir", str(data_dir), "--port", str(port), "--customers", "300"]
    env = {**os.environ, "RIGHTSFLOW_STEP_INITIAL_INTERVAL_S": "0.2"}
    with cli_server(args, base, data_dir / "stdout.log", env, ready_within=90):
        token = (data_dir / "admin-token").read_text().strip()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            DATA_DIRS[client] = data_dir
            yield client, data_dir
    # Ctrl-C stopped everything it started: no Temporal server is left on this data dir.
    leftovers = subprocess.run(
        ["pgrep", "-f", str(data_dir / "temporal.sqlite")], capture_output=True, check=False
    )
    assert leftovers.stdout == b""


def _submit(client: httpx.Client, kind: str, email: str) -> str:
    """The whole lifecycle: submit, the subject enters the mailed code, an operator approves
    what is not approved automatically."""
    answer = client.post(
        "/api/v1/privacy-requests",
        json={"type": kind, "identities": {"email": email}, "regime": "gdpr"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "awaiting_verification"
    rid, token = str(body["id"]), body["subject_token"]
    code = code_in_outbox(DATA_DIRS[client] / "outbox", email)
    verified = client.post(
        f"/api/v1/subject/requests/{rid}/code",
        json={"code": code},
        headers={"Subject-Token": token},
    )
    assert verified.status_code == 200, verified.text
    if kind != "access":  # changes data: waits for an operator by default
        assert verified.json()["status"] == "awaiting_approval"
        approved = client.post(f"/api/v1/privacy-requests/{rid}/approve")
        assert approved.status_code == 200, approved.text
    return rid


def _wait_done(client: httpx.Client, request_id: str) -> dict[str, object]:
    for _ in range(300):
        body: dict[str, object] = client.get(f"/api/v1/privacy-requests/{request_id}").json()
        if body["status"] in ("completed", "failed", "canceled"):
            return body
        time.sleep(0.2)
    raise AssertionError("request did not finish")


def test_access_package_holds_exactly_the_subjects_rows(
    demo: tuple[httpx.Client, Path],
) -> None:
    client, data_dir = demo
    request_id = _submit(client, "access", SUBJECT)
    assert _wait_done(client, request_id)["status"] == "completed"
    answer = client.get(f"/api/v1/privacy-requests/{request_id}/package")
    assert answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    data = json.loads(archive.read("data.json"))
    assert "<html" in archive.read("index.html").decode()
    with sqlite3.connect(data_dir / "shop.db") as db:
        (cid,) = db.execute("select id from customers where email = ?", (SUBJECT,)).fetchone()
        cards = db.execute("select last4 from payment_cards where customer_id = ?", (cid,))
        tickets = db.execute(
            "select body from support_tickets where customer_email = ?", (SUBJECT,)
        )
        assert sorted(r["last4"] for r in data["shop:payment_cards"]) == sorted(r for (r,) in cards)
        assert sorted(r["body"] for r in data["shop:support_tickets"]) == sorted(
            r for (r,) in tickets
        )
    assert [r["email"] for r in data["shop:customers"]] == [SUBJECT]


def test_erasure_leaves_no_targeted_value_and_the_receipt_says_so(
    demo: tuple[httpx.Client, Path],
) -> None:
    client, data_dir = demo
    with sqlite3.connect(data_dir / "shop.db") as db:
        (cid, name) = db.execute(
            "select id, name from customers where email = ?", (FORGOTTEN,)
        ).fetchone()
    request_id = _submit(client, "erasure", FORGOTTEN)
    assert _wait_done(client, request_id)["status"] == "completed"
    proof = client.get(f"/api/v1/privacy-requests/{request_id}/receipt").json()
    assert proof["verified"] is True
    assert {line["recheck"] for line in proof["lines"]} <= {"verified", "not needed"}
    with sqlite3.connect(data_dir / "shop.db") as db:
        assert db.execute(
            "select email, name, phone from customers where id = ?", (cid,)
        ).fetchone() == (None, "MASKED", None)
        for table, column in (
            ("login_events", "customer_email"),
            ("support_tickets", "customer_email"),
        ):
            found = db.execute(f"select count(*) from {table} where {column} = ?", (FORGOTTEN,))
            assert found.fetchone() == (0,)
        left = db.execute(
            "select count(*) from payment_cards where customer_id = ? and "
            "(last4 is not null or ccn_hash is not null)",
            (cid,),
        ).fetchone()
        assert left == (0,)
    # Nothing personal in plain text anywhere Rightsflow writes (the target db aside); mail
    # waiting in the outbox names its recipient in the To: header, and nothing else of theirs.
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("shop.db"):
            content = path.read_bytes()
            if path.parent.name == "outbox":
                content = re.sub(rb"(?m)^To: .*$", b"", content)
            assert SUBJECT.encode() not in content, path
            assert FORGOTTEN.encode() not in content, path
            assert name.encode() not in content, path


def test_bad_input_gets_a_clear_problem(demo: tuple[httpx.Client, Path]) -> None:
    client, _ = demo
    answer = client.post(
        "/api/v1/privacy-requests",
        json={"type": "access", "identities": {"shoe_size": "42"}, "regime": "gdpr"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "identities.shoe_size" in answer.text
    missing = client.get("/api/v1/privacy-requests/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert httpx.get(f"{client.base_url}/api/v1/privacy-requests").status_code == 401


def test_a_rectification_with_a_bad_value_names_the_field(
    demo: tuple[httpx.Client, Path],
) -> None:
    client, _ = demo
    body = {
        "type": "rectification",
        "identities": {"email": SUBJECT},
        "regime": "gdpr",
        "corrections": {"shop:customers.name": 12345},
    }
    answer = client.post("/api/v1/privacy-requests", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "corrections.shop:customers.name" in answer.text
    assert "12345" not in answer.text
    unknown = {**body, "corrections": {"shop:customers.shoe_size": "42"}}
    answer = client.post("/api/v1/privacy-requests", json=unknown)
    assert answer.status_code == 422
    assert "corrections.shop:customers.shoe_size" in answer.text


def test_restriction_over_http_sets_the_flag(demo: tuple[httpx.Client, Path]) -> None:
    client, data_dir = demo
    subject = "customer0000013@shop.example"
    request_id = _submit(client, "restriction", subject)
    assert _wait_done(client, request_id)["status"] == "completed"
    proof = client.get(f"/api/v1/privacy-requests/{request_id}/receipt").json()
    assert proof["verified"] is True
    with sqlite3.connect(data_dir / "shop.db") as db:
        flagged = db.execute("select email from customers where processing_restricted = 1")
        assert flagged.fetchall() == [(subject,)]


def test_the_demo_owner_signs_in_to_the_console(demo: tuple[httpx.Client, Path]) -> None:
    client, data_dir = demo
    password_file = data_dir / "console-password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    log = (data_dir / "stdout.log").read_text()
    assert "owner@demo.example" in log
    assert password_file.read_text() not in log  # the banner names the file, not the password
    with httpx.Client(base_url=str(client.base_url)) as browser:
        assert browser.get("/console/").status_code == 303  # to the sign-in page
        signed_in = browser.post(
            "/api/v1/session",
            json={"login": "owner@demo.example", "password": password_file.read_text().strip()},
        )
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["role"] == "owner"
        assert browser.get("/privacy/").status_code == 200
