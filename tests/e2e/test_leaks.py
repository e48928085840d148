"""The leak test: requests run end to end through `rightsflow serve`, then every byte the
platform wrote is searched for the subjects' values in plain text and common encodings.

The platform runs as a user runs it: a child process with its own data dir, TMPDIR and HOME,
debug-level JSON logs captured to files, the Temporal dev server it starts itself (SQLite in
the data dir) and mail to the outbox. The company's database (the target) lives outside the
data dir: it holds the people's data by right, so it is the one file not scanned.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import pytest

from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap
from rightsflow.storage.outbox import FileOutbox
from rightsflow.workflows.devserver import free_port
from tests.support.leak_scan import Hit, files_under, needles, scan, scan_bytes


@dataclass(frozen=True)
class Person:
    """A synthetic subject whose every value is distinctive enough to find anywhere."""

    email: str
    name: str
    phone: str
    street: str
    city: str
    ticket: str
    ip: str
    ccn_hash: str


ACCESS = Person("leak-7f3a9c@canary.example", "Zyxwvut Canaryson", "+44 7700 900417",
                "17 Quixotic Fjordlane", "Vexbridge-Østerbro", "Parcel QX9-CANARY never came",
                "203.0.113.77", "c4n4ryccnh4sh7f3a9c")  # fmt: skip
ERASE = Person("erase-b21e4d@canary.example", "Jnmbvcx Erasington", "+44 7700 900583",
               "42 Wobblegate Mews", "Snarkfield-Süd", "Refund for WX7-CANARY please",
               "198.51.100.23", "c4n4ryccnh4shb21e4d")  # fmt: skip
RECTIFY = Person("rectify-c93f10@canary.example", "Plokijuh Oldname", "+44 7700 900926",
                 "9 Zebrastripe Close", "Quillport-Ærø", "Wrong name on invoice YV3-CANARY",
                 "192.0.2.199", "c4n4ryccnh4shc93f10")  # fmt: skip
REFUSED = Person("refused-5d07aa@canary.example", "Vbnmlkj Refusova", "+44 7700 900264",
                 "3 Umbrageous Wharf", "Grimsholt-Åsen", "Close my account NZ4-CANARY",
                 "203.0.113.201", "c4n4ryccnh4sh5d07aa")  # fmt: skip
REFUSING_TRIGGER = f"""
    create trigger refuse before update on customers when old.email = '{REFUSED.email}'
    begin select raise(abort, 'will not erase {REFUSED.email}'); end"""
NEW_NAME = "Qwertzuiop Newname"  # the rectification's new value
PEOPLE = {"access": ACCESS, "erase": ERASE, "rectify": RECTIFY, "refused": REFUSED}
OPERATORS = "privacy-ops@localhost"  # the default operators' address (mail without personal data)


def canaries() -> dict[str, str]:
    """label -> value for everything personal the test hands the platform."""
    values = {
        f"{key}.{f.name}": getattr(person, f.name)
        for key, person in PEOPLE.items()
        for f in fields(person)
    }
    return {**values, "rectify.new_name": NEW_NAME}


# --------------------------------------------------------------------------- the scanner is honest


def test_the_scanner_finds_a_value_hidden_in_base64_at_every_alignment(tmp_path: Path) -> None:
    for prefix in ("", "a", "ab"):
        planted = tmp_path / f"planted{len(prefix)}.bin"
        document = json.dumps({"note": prefix, "email": ACCESS.email}).encode()
        planted.write_bytes(b"\x00header\x00" + base64.b64encode(document) + b"\x00")
        hits = scan([planted], {"email": ACCESS.email})
        assert [h.encoding.split("+")[0] for h in hits] == ["base64"], prefix


ENCODERS: dict[str, Callable[[str], bytes]] = {
    "plain": lambda doc: doc.encode(),
    "url-quote-plus": lambda doc: quote_plus(doc).encode(),
    "json-ascii": lambda doc: json.dumps({"d": doc}).encode(),
    "utf-16-le": lambda doc: doc.encode("utf-16-le"),
    "base64-urlsafe": lambda doc: base64.urlsafe_b64encode(doc.encode()),
    "lower": lambda doc: doc.lower().encode(),
}


@pytest.mark.parametrize("encoding", ENCODERS)
def test_the_scanner_finds_a_non_ascii_value_in_each_encoding(
    tmp_path: Path, encoding: str
) -> None:
    planted = tmp_path / "planted.txt"
    planted.write_bytes(ENCODERS[encoding](f"lives in {ACCESS.city}, near the sea"))
    hits = scan([planted], {"city": ACCESS.city})
    assert hits
    assert all(h.path == planted and h.label == "city" for h in hits)


def test_the_scanner_is_quiet_about_other_text(tmp_path: Path) -> None:
    clean = tmp_path / "clean.txt"
    clean.write_text("Ada Lovelace, customer0000011@shop.example, Vexbridge")
    assert scan([clean], canaries()) == []


def test_outbox_mail_may_name_its_recipient_in_to_and_nowhere_else(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    FileOutbox(outbox).send(ACCESS.email, "Your code", "Enter 123456")
    assert _outbox_hits(outbox, canaries()) == []
    FileOutbox(outbox).send(ERASE.email, "Your code", f"Hello {ERASE.name}")
    assert {h.label for h in _outbox_hits(outbox, canaries())} == {"erase.name"}


def test_outbox_mail_is_read_decoded_where_quoted_printable_hides_a_value(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    FileOutbox(outbox).send(OPERATORS, "Failed", f"{'x' * 60} in {ACCESS.city}")
    raw = next(outbox.glob("*.eml")).read_bytes()
    assert scan_bytes(outbox, raw, needles("city", ACCESS.city)) == []
    hits = _outbox_hits(outbox, canaries())
    assert [(h.label, h.encoding) for h in hits] == [("access.city", "plain, decoded mail")]


# --------------------------------------------------------------------------- the platform


class Dirs:
    """The platform's own (data dir, TMPDIR, HOME, logs) and the rest (target, downloads)."""

    def __init__(self, root: Path) -> None:
        self.data, self.tmp, self.home, self.logs, self.target, self.downloads = (
            root / name for name in ("data", "tmp", "home", "logs", "target", "downloads")
        )


def _make_target(dirs: Dirs) -> Path:
    db = dirs.target / "shop.db"
    db.parent.mkdir()
    create_shop_sqlite(db, customers=20)
    with sqlite3.connect(db) as conn:
        for person in PEOPLE.values():
            p = person
            cid = conn.execute(
                "insert into customers (email, name, phone, created_at) values (?, ?, ?, ?)",
                (p.email, p.name, p.phone, "2024-03-01T00:00:00+00:00"),
            ).lastrowid
            conn.execute("insert into addresses (customer_id, street, city) values (?, ?, ?)",
                         (cid, p.street, p.city))  # fmt: skip
            conn.execute("insert into payment_cards (customer_id, last4, ccn_hash) "
                         "values (?, '4242', ?)", (cid, p.ccn_hash))  # fmt: skip
            conn.execute("insert into login_events (customer_email, ip, ts) values (?, ?, ?)",
                         (p.email, p.ip, "2024-03-02T10:00:00+00:00"))  # fmt: skip
            conn.execute("insert into support_tickets (customer_email, body) values (?, ?)",
                         (p.email, p.ticket))  # fmt: skip
        # The company's database refuses to change this person's row, so the erasure fails;
        # the error names the person (as PostgreSQL's "Key (email)=(...)" does) and its SQL
        # parameters hold their values: none of it may travel into our records.
        conn.execute(REFUSING_TRIGGER)
    write_shop_datamap(dirs.target / "datamap", db)
    return db


@contextmanager
def _serving(dirs: Dirs) -> Iterator[httpx.Client]:
    """`rightsflow serve` as a child process; stopped (Ctrl-C) when the block ends."""
    for d in (dirs.tmp, dirs.home, dirs.logs):
        d.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "TMPDIR": str(dirs.tmp),
        "HOME": str(dirs.home),
        "RIGHTSFLOW_LOG_LEVEL": "debug",
        "RIGHTSFLOW_LOG_JSON": "true",
        "RIGHTSFLOW_STEP_INITIAL_INTERVAL_S": "0.2",
        "RIGHTSFLOW_STEP_MAX_ATTEMPTS": "2",  # the refused erasure fails after one retry
    }
    command = [sys.executable, "-m", "rightsflow.cli.main", "serve", "--data-dir", str(dirs.data),
               "--datamap", str(dirs.target / "datamap"), "--port", str(port)]  # fmt: skip
    with (dirs.logs / "stderr.log").open("wb") as err, (dirs.logs / "stdout.log").open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc, dirs)
            token = (dirs.data / "admin-token").read_text().strip()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                yield c
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], dirs: Dirs) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (dirs.logs / "stderr.log").read_text()[-2000:]
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("rightsflow serve did not become ready")


def _code_mailed_to(outbox: Path, email: str) -> str:
    for path in sorted(outbox.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns, reverse=True):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if mail["To"] == email and "verification" in str(mail["Subject"]).lower():
            found = re.search(r"\b(\d{6})\b", path.read_text())
            assert found is not None
            return found.group(1)
    raise AssertionError("no verification code was mailed")


def _run(
    client: httpx.Client, outbox: Path, body: dict[str, object], *, approve: bool, ends: str = ""
) -> tuple[str, str]:
    """Submit, enter the mailed code as the subject, approve as an operator, wait until done;
    returns the request's id and the subject's token."""
    answer = client.post("/api/v1/privacy-requests", json={**body, "regime": "gdpr"})
    assert answer.status_code == 202, answer.text
    rid, token = str(answer.json()["id"]), answer.json()["subject_token"]
    email = str(body["identities"]["email"])  # type: ignore[index]
    code = _code_mailed_to(outbox, email)
    entered = client.post(f"/api/v1/subject/requests/{rid}/code", json={"code": code},
                          headers={"Subject-Token": token})  # fmt: skip
    assert entered.status_code == 200, entered.text
    if approve:
        assert client.post(f"/api/v1/privacy-requests/{rid}/approve").status_code == 200
    for _ in range(300):
        status = client.get(f"/api/v1/privacy-requests/{rid}").json()["status"]
        if status in ("completed", "failed", "canceled"):
            assert status == (ends or "completed")
            return rid, token
        time.sleep(0.1)
    raise AssertionError(f"{body['type']} request did not finish")


def _download_and_delete_package(client: httpx.Client, request_id: str, dirs: Dirs) -> None:
    """The operator's copy lands outside the data dir and is deleted after use; it must hold
    the subject's data in plain text, which also proves the scan sees what flowed through."""
    dirs.downloads.mkdir()
    package = dirs.downloads / "package.zip"
    with client.stream("GET", f"/api/v1/privacy-requests/{request_id}/package") as answer:
        assert answer.status_code == 200
        with package.open("wb") as out:
            for chunk in answer.iter_bytes():
                out.write(chunk)
    with zipfile.ZipFile(package) as archive:
        data = archive.read("data.json")
    assert scan_bytes(package, data, needles("email", ACCESS.email))
    package.unlink()


def _run_every_kind(client: httpx.Client, dirs: Dirs) -> dict[str, str]:
    """Request id -> subject token, for one request of each kind."""
    outbox = dirs.data / "outbox"
    access = _run(client, outbox, {"type": "access", "identities": {"email": ACCESS.email,
                  "phone_number": ACCESS.phone}}, approve=False)  # fmt: skip
    _download_and_delete_package(client, access[0], dirs)
    erasure = _run(client, outbox, {"type": "erasure", "identities": {"email": ERASE.email}},
                   approve=True)  # fmt: skip
    corrections = {"shop:customers.name": NEW_NAME}
    rectification = _run(client, outbox, {"type": "rectification", "identities": {
        "email": RECTIFY.email}, "corrections": corrections}, approve=True)  # fmt: skip
    refused = _run(client, outbox, {"type": "erasure", "identities": {"email": REFUSED.email}},
                   approve=True, ends="failed")  # fmt: skip
    return dict([access, erasure, rectification, refused])


def _decoded(mail: EmailMessage) -> bytes:
    """Headers but To: and every text part, decoded (bodies are quoted-printable on disk,
    where a soft line break or `=C3=98` would hide a value from the raw scan)."""
    headers = [f"{k}: {v}" for k, v in mail.items() if k.lower() != "to"]
    parts = [
        str(part.get_content()) for part in mail.walk() if part.get_content_maintype() == "text"
    ]
    return "\n".join([*headers, *parts]).encode()


def _outbox_hits(outbox: Path, values: dict[str, str]) -> list[Hit]:
    """Mail to a subject must name them in To: and nowhere else; mail to operators, never.

    The raw file is scanned with the To: value blanked (same length, so offsets stay true),
    then the decoded mail is scanned too (its offsets are into the decoded text)."""
    hits: list[Hit] = []
    subjects = {p.email for p in PEOPLE.values()}
    wanted = [n for label, v in values.items() for n in needles(label, v)]
    for path in sorted(outbox.glob("*.eml")):
        raw = path.read_bytes()
        mail = message_from_bytes(raw, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        assert mail["To"] in {*subjects, OPERATORS}, f"{path.name}: addressed to someone else"
        blanked = re.sub(rb"(?m)^To: .*$", lambda m: b" " * len(m.group(0)), raw, count=1)
        hits.extend(scan_bytes(path, blanked, wanted))
        hits.extend(
            replace(h, encoding=f"{h.encoding}, decoded mail")
            for h in scan_bytes(path, _decoded(mail), wanted)
        )
    return hits


@pytest.mark.temporal
@pytest.mark.slow
def test_nothing_personal_is_written_outside_the_target(tmp_path: Path) -> None:
    dirs = Dirs(tmp_path)
    target = _make_target(dirs)
    with _serving(dirs) as client:
        subject_tokens = _run_every_kind(client, dirs)
        admin_token = str(client.headers["Authorization"]).removeprefix("Bearer ")
    values = canaries()
    outbox = dirs.data / "outbox"
    written = files_under(dirs.data, dirs.tmp, dirs.home, dirs.logs, dirs.target / "datamap",
                          skip=lambda p: p.parent == outbox)  # fmt: skip
    hits = scan(written, values) + _outbox_hits(outbox, values)
    assert hits == [], "\n".join(map(str, hits))
    # The scan looked where the values could have gone: debug logs were written, the Temporal
    # history is on disk, mail was sent, and the target (not scanned) still holds the access
    # subject's rows, which the same scanner finds.
    lines = (dirs.logs / "stderr.log").read_text().splitlines()
    assert [line for line in lines if not line.startswith("{")] == ["stopped"]
    logged = [json.loads(line) for line in lines[:-1]]
    assert any(e["level"] == "debug" and e["logger"] == "temporalio.activity" for e in logged)
    temporal = b"".join(p.read_bytes() for p in dirs.data.glob("temporal.sqlite*"))
    assert all(f"privacy-request-{rid}".encode() in temporal for rid in subject_tokens)
    assert len(list(outbox.glob("*.eml"))) >= len(PEOPLE)
    assert {h.label for h in scan([target], values)} >= {"access.email", "access.name"}
    # Credentials are not written anywhere but the admin-token file (mail aside: a subject may
    # legitimately be sent their own token).
    tokens = {f"subject token of {rid}": token for rid, token in subject_tokens.items()}
    elsewhere = [p for p in written if p != dirs.data / "admin-token"]
    assert scan(elsewhere, {**tokens, "admin token": admin_token}) == []
    assert scan([dirs.data / "admin-token"], {"admin token": admin_token})
