"""Shared by the commands: settings from flags, and one-line errors with a non-zero exit."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from rightsflow.cli.logs import configure_logging
from rightsflow.config import Settings, load_settings
from rightsflow.domain.errors import DataMapInvalid, RightsflowError

err = Console(stderr=True)
T = TypeVar("T")


def settings_from(config: Path | None, **flags: Any) -> Settings:
    try:
        settings = load_settings(config, **flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"invalid setting {where}: {first['msg']}")
    except FileNotFoundError as exc:
        fail(str(exc))
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def guarded(call: Callable[[], T]) -> T:
    """Turn expected failures into a one-line message and a non-zero exit.

    SIGTERM is handled like Ctrl-C, so `kill` or a service manager also runs the cleanup that
    stops the children (the default action would end the process before any `finally`)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return call()
    except DataMapInvalid as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (RightsflowError, OSError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("stopped")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
