"""`rightsflow consent set | history | link` on a real data dir (SQLite): choices recorded,
read back, linked; bad input is a one-line error; subjects never printed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rightsflow.cli.main import app
from tests.support.stack import make_shop

SECRET = "u-5150c"


def test_set_history_and_link(tmp_path: Path) -> None:
    _db, mapdir = make_shop(tmp_path, customers=3)
    where = ["--data-dir", str(tmp_path / "data"), "--datamap", str(mapdir)]
    cli = CliRunner()

    wrote = cli.invoke(
        app, ["consent", "set", f"user_id:{SECRET}", "analytics=yes", "advertising=no", *where]
    )
    assert wrote.exit_code == 0, wrote.output
    assert "analytics" in wrote.output
    assert "withdrawn: advertising" in wrote.output
    gpc = cli.invoke(
        app, ["consent", "set", SECRET, "sale_sharing=yes", "--gpc", "--regime", "ccpa", *where]
    )
    assert "gpc_overrides_choice" in gpc.output
    device = cli.invoke(app, ["consent", "set", "device_id:dev-zq9", "personalisation=yes", *where])
    assert device.exit_code == 0, device.output
    linked = cli.invoke(app, ["consent", "link", "device_id:dev-zq9", SECRET, *where])
    assert linked.exit_code == 0, linked.output
    assert "device_choice_taken" in linked.output

    shown = cli.invoke(app, ["consent", "history", SECRET, *where])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count(" record ") == 3
    assert " link " in shown.output
    for result in (wrote, gpc, device, linked, shown):
        assert SECRET not in result.output
        assert "dev-zq9" not in result.output  # not hex: cannot be part of an id

    bad = cli.invoke(app, ["consent", "set", SECRET, "analytics=maybe", *where])
    assert bad.exit_code == 1
    assert "choice 1: expected purpose=yes or purpose=no" in bad.output
    unknown = cli.invoke(app, ["consent", "set", SECRET, "telepathy=yes", *where])
    assert unknown.exit_code == 1
    assert "unknown purpose: telepathy" in unknown.output
    notice = cli.invoke(app, ["consent", "set", SECRET, "analytics=yes", "--notice", "x", *where])
    assert "KEY:VERSION" in notice.output
    purposes = cli.invoke(app, ["consent", "purposes", "list", *where])
    assert purposes.exit_code == 0, purposes.output
    assert "sale_sharing" in purposes.output
