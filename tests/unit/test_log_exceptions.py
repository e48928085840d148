"""Logged exceptions keep their types and frames; their messages and locals never reach the log
(an exception's text may quote the data it choked on: SQL parameters, a row, an address)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from rightsflow.cli.logs import OPEN_LOGGERS, configure_logging

SECRET = "leak-7f3a9c@canary.example"


def _fail(email: str) -> None:
    row = {"email": email}  # a local a traceback with locals would print
    raise KeyError(f"no customer {row['email']}")


def _wrapped(email: str) -> None:
    try:
        _fail(email)
    except KeyError as exc:
        raise RuntimeError(f"lookup of {email} failed") from exc


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    opened = {name: logging.getLogger(name).level for name in OPEN_LOGGERS}
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in opened.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.parametrize("json", [False, True])
def test_our_logged_exception_names_its_types_and_frames_only(
    capsys: pytest.CaptureFixture[str], json: bool
) -> None:
    configure_logging("debug", json=json)
    try:
        _wrapped(SECRET)
    except RuntimeError:
        structlog.get_logger("rightsflow.test").exception("step_crashed", request_id="r-1")
    logged = capsys.readouterr().err
    assert "step_crashed" in logged
    assert "RuntimeError" in logged
    assert "KeyError" in logged
    assert "_fail" in logged
    assert "canary" not in logged


@pytest.mark.parametrize("json", [False, True])
def test_a_librarys_logged_exception_is_stripped_the_same_way(
    capsys: pytest.CaptureFixture[str], json: bool
) -> None:
    configure_logging("debug", json=json)
    try:
        _wrapped(SECRET)
    except RuntimeError:
        logging.getLogger("temporalio.activity").warning("Completing as failed", exc_info=True)
    logged = capsys.readouterr().err
    assert "Completing as failed" in logged
    assert "RuntimeError" in logged
    assert "canary" not in logged
