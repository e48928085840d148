"""`rightsflow consent experiments create|start|list|stop|results` on a real data dir
(SQLite)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rightsflow.bootstrap import build_runtime
from rightsflow.cli.main import app
from rightsflow.config import Settings
from rightsflow.domain.consent import SubjectRef
from rightsflow.services import experiments
from tests.support.experiment_data import publish_notices
from tests.support.stack import make_shop

runner = CliRunner()


def _invoke(where: list[str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["consent", "experiments", *args, *where])
    return result.exit_code, result.output


def test_create_start_results_stop(tmp_path: Path) -> None:
    _, mapdir = make_shop(tmp_path, customers=2)
    settings = Settings(data_dir=tmp_path / "data", datamap_dir=mapdir)
    runtime = build_runtime(settings)
    publish_notices(runtime.platform)
    where = ["--data-dir", str(settings.data_dir), "--datamap", str(mapdir)]

    code, output = _invoke(
        where, "create", "banner_copy", "--notice", "banner", "--purpose", "analytics",
        "--variant", "control=1", "--variant", "short=2:3",
    )  # fmt: skip
    assert code == 0, output
    assert "banner_copy: draft" in output
    assert "short=v2:3" in output
    assert "running" in _invoke(where, "start", "banner_copy")[1]
    for i in range(40):
        subject = SubjectRef.parse(f"user_id:u-{i}")
        experiments.outcome(runtime.platform, "banner_copy", subject, granted=i % 2 == 0)
    runtime.close()

    code, output = _invoke(where, "results", "banner_copy")
    assert code == 0, output
    assert "control" in output
    assert "sample ratio:" in output
    assert "banner_copy" in _invoke(where, "list", "--status", "running")[1]
    assert "stopped" in _invoke(where, "stop", "banner_copy")[1]


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    _, mapdir = make_shop(tmp_path, customers=2)
    where = ["--data-dir", str(tmp_path / "data"), "--datamap", str(mapdir)]
    code, output = _invoke(
        where, "create", "x", "--notice", "banner", "--purpose", "analytics",
        "--variant", "control", "--variant", "b=2",
    )  # fmt: skip
    assert code != 0
    assert "NAME=VERSION" in output
    assert len(output.strip().splitlines()) == 1
    code, output = _invoke(
        where, "create", "x", "--notice", "banner", "--purpose", "analytics",
        "--variant", "a=1", "--variant", "b=2",
    )  # fmt: skip
    assert code != 0
    assert "unknown notice version" in output
    code, output = _invoke(where, "start", "nope")
    assert (code != 0, "no such experiment" in output) == (True, True)
