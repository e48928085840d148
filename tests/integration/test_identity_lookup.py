"""Requests found by a keyed hash of an identity, on a real platform (SQLite): however the
value was typed, never stored in plain text, and gone with the request's records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.cli.main import app
from rightsflow.config import Settings
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import identity_lookup
from rightsflow.services.identity_lookup import normalised
from rightsflow.services.requests import NewRequest, submit
from rightsflow.storage.tables import identity_hashes
from tests.support.stack import make_shop

EMAIL = "Grace.Hopper.7731@Example.ORG"
PHONE = "+1 (555) 010-7731"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    _, mapdir = make_shop(tmp_path, customers=3)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", datamap_dir=mapdir))
    yield runtime
    runtime.close()


def request_id(runtime: Runtime, identities: dict[str, str], kind: str = "access") -> str:
    request, _ = submit(runtime.platform, NewRequest(kind, identities, "gdpr"))
    return request.id


@pytest.mark.parametrize(
    ("kind", "typed", "expected"),
    [
        ("email", "  Ada@Example.COM ", "ada@example.com"),
        ("phone_number", "+44 (20) 7946-0018", "+442079460018"),
        ("phone_number", "020 7946 0018", "02079460018"),  # no country code: kept apart
        ("user_id", " U-42 ", "U-42"),
    ],
)
def test_values_are_normalised_before_hashing(kind: str, typed: str, expected: str) -> None:
    assert normalised(kind, typed) == expected


def test_requests_are_found_by_email_or_phone_however_typed(runtime: Runtime) -> None:
    first = request_id(runtime, {"email": EMAIL, "phone_number": PHONE})
    second = request_id(runtime, {"email": EMAIL.lower()}, kind="erasure")
    other = request_id(runtime, {"email": "someone.else@example.org"})
    platform = runtime.platform

    by_email = identity_lookup.requests_for_identity(platform, "email", f" {EMAIL.upper()} ")
    assert [r.id for r in by_email] == [first, second]
    by_phone = identity_lookup.requests_for_identity(platform, "phone_number", "+15550107731")
    assert [r.id for r in by_phone] == [first]
    assert identity_lookup.requests_for_identity(platform, "email", "nobody@example.org") == []
    assert other not in {r.id for r in by_email}
    with pytest.raises(InvalidInput):
        identity_lookup.requests_for_identity(platform, "email", "   ")


def test_only_keyed_hashes_are_stored(runtime: Runtime) -> None:
    rid = request_id(runtime, {"email": EMAIL, "phone_number": PHONE})
    with runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(identity_hashes).where(identity_hashes.c.request_id == rid))
        stored = {row.kind: row.hash for row in rows}
    assert set(stored) == {"email", "phone_number"}
    database = Path(runtime.settings.app_database_url.removeprefix("sqlite:///"))
    raw = b"".join(
        f.read_bytes() for f in (database, database.with_name(database.name + "-wal")) if f.exists()
    )
    for value in (EMAIL.lower(), "grace.hopper", "5550107731", "010-7731"):
        assert value.encode() not in raw
    unkeyed = identity_lookup.normalised("email", EMAIL)
    assert stored["email"] != unkeyed
    assert stored["email"] == runtime.platform.vault.lookup_hash(f"identity:email:{unkeyed}")


def test_cli_finds_requests_and_prints_no_identity(runtime: Runtime) -> None:
    rid = request_id(runtime, {"email": EMAIL})
    settings = runtime.settings
    args = ["requests", "find", "--data-dir", str(settings.data_dir)]
    args += ["--datamap", str(settings.datamap_dir)]
    cli = CliRunner()

    found = cli.invoke(app, [*args, "--email", EMAIL.lower()])
    assert found.exit_code == 0, found.output
    assert rid in found.output
    assert "1 request(s)" in found.output
    assert EMAIL.lower() not in found.output.lower()
    none = cli.invoke(app, [*args, "--identity", "user_id=U-1"])
    assert "0 request(s)" in none.output
    both = cli.invoke(app, [*args, "--email", "a@b.co", "--phone", "+1555"])
    assert both.exit_code == 1
    assert "exactly one" in both.output
