"""Servers for the browser tests.

`page_server`: the real app (tests/support/web_stack.py: SQLite, the shop data map, one person
per role, workflows recorded, not run) served by uvicorn in a thread. Light: for checking pages
(axe, keyboard, screenshots).

`live_platform`: `rightsflow serve` in a child process (Temporal dev server + worker, SQLite,
the shop sample), mail through a local SMTP server, and a console person made with
`rightsflow users create`. For journeys that must run to the end (an erasure completing).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap
from rightsflow.workflows.devserver import free_port
from tests.support.cli_server import CLI, cli_server
from tests.support.http_server import free_socket, serve, url_of
from tests.support.smtp_server import RunningSmtp, smtp_server
from tests.support.web_stack import WebStack, web_stack

OPERATOR_LOGIN = "operator@ops.example"
OPERATOR_PASSWORD = "browser tests operator passphrase 7"  # a test-only throwaway


@dataclass
class PageServer:
    base: str
    stack: WebStack

    def rest(self) -> httpx.Client:
        """The REST API as the bootstrap owner, for setting data up."""
        return httpx.Client(base_url=self.base, headers=self.stack.owner, timeout=30)


@contextmanager
def page_server(root: Path, customers: int = 20, **settings: Any) -> Iterator[PageServer]:
    sock = free_socket()  # bound first: the app must know its own origin (CSRF checks)
    base = url_of(sock)
    with (
        web_stack(root, customers=customers, public_url=base, **settings) as stack,
        serve(stack.app, sock),
    ):
        yield PageServer(base, stack)


@dataclass
class LivePlatform:
    base: str
    data_dir: Path
    smtp: RunningSmtp
    admin_token: str

    def rest(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
        )

    def code_mailed_to(self, email: str, timeout_s: float = 30) -> str:
        """The newest verification code the SMTP server received for `email`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for mail in reversed(self.smtp.received):
                if email in mail.recipients and "verification" in mail.message["Subject"].lower():
                    found = re.search(r"\b(\d{6})\b", str(mail.message.get_content()))
                    assert found is not None, "the verification mail holds no code"
                    return found.group(1)
            time.sleep(0.2)
        raise AssertionError("no verification code was mailed")


def _create_operator(data_dir: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [*CLI, "users", "create", "--login", OPERATOR_LOGIN, "--role", "privacy_operator",
         "--password-stdin", "--data-dir", str(data_dir)],
        input=f"{OPERATOR_PASSWORD}\n".encode(), env=env, check=True, capture_output=True,
        timeout=120,
    )  # fmt: skip


@contextmanager
def live_platform(root: Path, customers: int = 50) -> Iterator[LivePlatform]:
    db, mapdir, data_dir = root / "shop.db", root / "map", root / "data"
    create_shop_sqlite(db, customers=customers)
    write_shop_datamap(mapdir, db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with smtp_server() as smtp:
        env = {
            **os.environ,
            "RIGHTSFLOW_SMTP_HOST": "127.0.0.1",
            "RIGHTSFLOW_SMTP_PORT": str(smtp.port),
            "RIGHTSFLOW_SMTP_SECURITY": "none",
            "RIGHTSFLOW_MAIL_FROM": "privacy@shop.example",
            "RIGHTSFLOW_STEP_INITIAL_INTERVAL_S": "0.2",
            "RIGHTSFLOW_PUBLIC_URL": base,
        }
        _create_operator(data_dir, env)
        args = ["serve", "--data-dir", str(data_dir), "--datamap", str(mapdir), "--port", str(port)]
        with cli_server(args, base, root / "serve.log", env):
            token = (data_dir / "admin-token").read_text().strip()
            yield LivePlatform(base, data_dir, smtp, token)
