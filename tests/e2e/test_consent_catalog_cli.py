"""`rightsflow consent purposes ...` and `rightsflow consent notices ...` on a real data dir
(SQLite, shop data map): the standard purposes from the first start, put/retire, publishing
versions from a file, and one-line errors with a non-zero exit for what the catalogue refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rightsflow.cli.main import app
from rightsflow.domain.consent_catalog import text_sha256
from tests.support.stack import make_shop

runner = CliRunner()


@pytest.fixture
def where(tmp_path: Path) -> list[str]:
    _, mapdir = make_shop(tmp_path, customers=2)
    return ["--data-dir", str(tmp_path / "data"), "--datamap", str(mapdir)]


def run(where: list[str], *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["consent", *args, *where])
    assert result.exit_code == code, result.output
    return result.output


def test_purposes_list_show_put_retire(where: list[str]) -> None:
    listed = run(where, "purposes", "list")
    for key in ("essential", "analytics", "personalisation", "advertising", "sale_sharing"):
        assert key in listed
    shown = run(where, "purposes", "show", "sale_sharing")
    assert "1798.120" in shown
    assert "gpc" in shown
    put = ("purposes", "put", "surveys", "--name", "Surveys", "--basis", "gdpr=Art. 6(1)(a)")
    assert "created purpose surveys" in run(where, *put)
    assert "updated purpose surveys" in run(where, *put[:3], "--name", "Polls")
    assert "Polls" in run(where, "purposes", "show", "surveys")
    assert "retired purpose surveys" in run(where, "purposes", "retire", "surveys")
    assert "surveys" not in run(where, "purposes", "list")
    assert "surveys" in run(where, "purposes", "list", "--all")


def test_notices_publish_versions_show(where: list[str], tmp_path: Path) -> None:
    text = tmp_path / "banner.md"
    text.write_text("# Cookies\nWe measure visits.\n", encoding="utf-8")
    publish = ("notices", "publish", "banner", "--file", str(text))
    first = run(where, *publish, "--purposes", "analytics, advertising")
    assert "published banner v1" in first
    second = run(where, *publish, "--purposes", "analytics", "--language", "de")
    assert "published banner v2" in second
    versions = run(where, "notices", "versions", "banner")
    assert "analytics, advertising" in versions
    assert " de " in versions
    shown = run(where, "notices", "show", "banner", "1")
    assert "We measure visits." in shown
    assert f"sha256 {text_sha256(text.read_text(encoding='utf-8'))}" in shown
    assert "banner" in run(where, "notices", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("purposes", "show", "nothing"), "no purpose 'nothing'"),
        (("purposes", "retire", "nothing"), "no purpose 'nothing'"),
        (("purposes", "put", "x", "--name", "X", "--basis", "narnia=y"), "unknown regime"),
        (("purposes", "put", "x", "--name", "X", "--basis", "novalue"), "--basis takes"),
        (("purposes", "put", "Bad Key", "--name", "X"), "a purpose key is lowercase"),
        (("notices", "show", "banner", "1"), "no such notice version"),
        (("notices", "versions", "banner"), "no such notice"),
    ],
)
def test_refusals_are_one_line(where: list[str], args: tuple[str, ...], message: str) -> None:
    output = run(where, *args, code=1)
    assert message in output
    assert "Traceback" not in output


def test_a_notice_naming_an_unknown_purpose_is_refused(where: list[str], tmp_path: Path) -> None:
    text = tmp_path / "t.md"
    text.write_text("text", encoding="utf-8")
    args = ("notices", "publish", "banner", "--file", str(text), "--purposes", "analytics,fishing")
    assert "unknown purpose 'fishing'" in run(where, *args, code=1)
    missing = ("notices", "publish", "banner", "--file", str(tmp_path / "none.md"))
    assert "none.md" in run(where, *missing, "--purposes", "analytics", code=1)
    binary = tmp_path / "b.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    bad = ("notices", "publish", "banner", "--file", str(binary), "--purposes", "analytics")
    assert "not UTF-8 text" in run(where, *bad, code=1)
