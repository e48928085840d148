"""Bulk jobs over HTTP (uvicorn): a streamed CSV erase job and a multipart JSON-lines access
job run to the end on the Temporal dev server; bad files are refused whole; scopes hold."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.domain.signature import load_public_key, verify_document
from rightsflow.sample.shop import email_for
from rightsflow.workflows.devserver import DevServer
from tests.support.bulk_stack import bulk_starter, csv_lines
from tests.support.http_server import serve
from tests.support.principals import role_tokens
from tests.support.stack import make_shop, rows, running_stack, stack_settings

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
OPERATOR = {"Authorization": "Bearer privacy_operator"}
REVIEWER = {"Authorization": "Bearer reviewer"}


async def _ready() -> dict[str, str]:
    return {"database": "ok"}


@asynccontextmanager
async def _api(tmp_path: Path, server: DevServer, client: Client) -> AsyncIterator[Any]:
    db, mapdir = make_shop(tmp_path, customers=300)
    settings = stack_settings(tmp_path, mapdir, server.address)
    async with running_stack(settings, client) as stack:
        deps = ApiDeps(
            platform=stack.runtime.platform,
            workflows=stack.starter,
            token_is_valid=lambda _token: False,
            readiness=_ready,
            tokens=role_tokens(),
            bulk=bulk_starter(client, settings),
        )
        with serve(create_app(settings, deps)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                yield http, db, stack.runtime.platform


async def _until_finished(http: httpx.AsyncClient, location: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await http.get(location, headers=OPERATOR)).json()
        if job["status"] not in ("pending", "running"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish")


async def _streamed(lines: list[str]) -> AsyncIterator[bytes]:
    # Chunks that cut lines in two, as a network does.
    data = "".join(lines).encode()
    for i in range(0, len(data), 997):
        yield data[i : i + 997]


async def test_streamed_csv_erase_job_end_to_end(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with _api(tmp_path, temporal_server, temporal_client) as (http, db, platform):
        lines = [*csv_lines(range(1, 251)), f"{email_for(7).upper()}\n"]  # a duplicate
        created = await http.post(
            "/api/v1/bulk-jobs?kind=erase",
            content=_streamed(lines),
            headers={**OPERATOR, "Content-Type": "text/csv"},
        )
        assert created.status_code == 202, created.text
        assert created.json()["subjects_total"] == 250
        assert created.json()["duplicates"] == 1
        job = await _until_finished(http, created.headers["Location"])
        assert job["status"] == "completed", job
        assert (job["subjects_done"], job["subjects_failed"], job["progress"]) == (250, 0, 1.0)
        assert job["rate"] > 0
        assert job["eta_s"] is None
        base = f"/api/v1/bulk-jobs/{job['id']}"
        failed = (await http.get(f"{base}/subjects?status=failed", headers=REVIEWER)).json()
        assert failed == {"items": [], "next_cursor": None}
        page = (await http.get(f"{base}/subjects?limit=100", headers=REVIEWER)).json()
        assert [s["seq"] for s in page["items"]] == list(range(2, 102))
        assert page["next_cursor"] == "101"
        receipt = (await http.get(f"{base}/subjects/2/receipt", headers=REVIEWER)).json()
        key = load_public_key(platform.signer.public_key_pem())
        assert verify_document(receipt, [key])
        assert receipt["verified"]
        assert email_for(1) not in json.dumps(receipt)
        listed = (await http.get("/api/v1/bulk-jobs", headers=REVIEWER)).json()
        assert [j["id"] for j in listed["items"]] == [job["id"]]
        again = await http.post(f"{base}/cancel", headers=OPERATOR)
        assert again.status_code == 409
    assert rows(db, "SELECT count(*) FROM customers WHERE email LIKE 'customer%'") == [(50,)]


async def test_bad_lines_refuse_the_whole_file_naming_lines_not_values(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with _api(tmp_path, temporal_server, temporal_client) as (http, _db, _platform):
        body = "email\nok@x.example\nsecret-not-an-email\nok2@x.example\n,\nalso bad\n"
        refused = await http.post(
            "/api/v1/bulk-jobs?kind=erase",
            content=body.encode(),
            headers={**OPERATOR, "Content-Type": "text/csv"},
        )
        assert refused.status_code == 422
        problem = refused.json()
        assert problem["bad_lines"] == 2
        assert [e["field"] for e in problem["errors"]] == ["line.3", "line.6"]
        assert "secret" not in refused.text
        assert "also bad" not in refused.text
        listed = (await http.get("/api/v1/bulk-jobs", headers=OPERATOR)).json()
        assert listed["items"] == []


async def test_multipart_jsonl_access_job_and_scopes(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with _api(tmp_path, temporal_server, temporal_client) as (http, db, _platform):
        text = "".join(json.dumps({"email": email_for(i)}) + "\n" for i in range(1, 31))
        files = {"file": ("people.jsonl", text.encode(), "application/octet-stream")}
        # A reviewer may approve but not write: no job of either kind.
        denied = await http.post(
            "/api/v1/bulk-jobs", files=files, data={"kind": "access"}, headers=REVIEWER
        )
        assert denied.status_code == 403
        created = await http.post(
            "/api/v1/bulk-jobs", files=files, data={"kind": "access"}, headers=OPERATOR
        )
        assert created.status_code == 202, created.text
        job = await _until_finished(http, created.headers["Location"])
        assert (job["kind"], job["status"], job["subjects_done"]) == ("access", "completed", 30)
        assert job["rows_found"] >= 30
        assert job["rows_written"] == 0
    assert rows(db, "SELECT count(*) FROM customers WHERE email LIKE 'customer%'") == [(300,)]


async def _cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rightsflow.cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_cli_bulk_erase_follows_the_job_to_the_end(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with _api(tmp_path, temporal_server, temporal_client) as (http, db, _platform):
        url = str(http.base_url).rstrip("/")
        common = ["--url", url, "--token", "privacy_operator", "--data-dir", str(tmp_path)]
        people = tmp_path / "closures.csv"
        people.write_text("".join(csv_lines(range(1, 121))))
        args = ["bulk", "erase", str(people), "--follow", "--poll", "0.2", *common]
        code, output = await _cli(*args)
        assert code == 0, output
        assert "120/120 subjects (0 failed)" in output
        assert "completed" in output
        job_id = output.split("bulk job ", 1)[1].split(":", 1)[0]
        code, output = await _cli("bulk", "status", job_id, *common)
        assert code == 0, output
        assert f"{job_id}  erase  completed" in output
        bad = tmp_path / "bad.csv"
        bad.write_text("email\nok@x.example\nnot-an-email\n")
        code, output = await _cli("bulk", "erase", str(bad), *common)
        assert code == 1
        assert "line.3" in output
        assert "not-an-email" not in output
    assert rows(db, "SELECT count(*) FROM customers WHERE email LIKE 'customer%'") == [(180,)]
