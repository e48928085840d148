"""Structured logs to stderr. Events carry ids and counts; never identities.

Our own events and the records of the libraries we let through share one format (JSON lines
when `log_json`), so a log pipeline never meets a line it cannot parse. A logged exception
keeps its types and frames and loses its messages and locals, which may quote the data it
choked on (SQL parameters, a row, an address).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

# Libraries whose records follow the chosen level, debug included. What they write at debug
# (ids, task tokens, payloads after the payload codec) is checked by tests/e2e/test_leaks.py.
# Every other library stays at WARNING whatever the level: a new dependency cannot start
# writing personal data to the log because someone asked for debug. SQLAlchemy's engine logs
# statements, parameters and rows; httpx logs URLs, whose query strings can carry an email.
OPEN_LOGGERS = ("temporalio", "alembic")


class _CurrentStderr:
    """Whatever sys.stderr is at write time (a test runner may swap it and close the old one)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _LibraryHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours on the root logger: replaced, not stacked, when logging is configured again."""


def _exception_text(exc: BaseException) -> str:
    """Frames and exception types along the chain, oldest first; no messages, no locals."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        kind = type(current)
        parts.append(
            f"Traceback (most recent call last):\n{frames}"
            f"{kind.__module__}.{kind.__qualname__} (message withheld)"
        )
        context = None if current.__suppress_context__ else current.__context__
        current = current.__cause__ or context
    return "\n\nwhich led to\n\n".join(reversed(parts))


def withhold_exception_text(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace `exc_info` (ours or a library record's) with `_exception_text`."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info if isinstance(exc_info, BaseException) else None
    if isinstance(exc_info, tuple) and len(exc_info) == 3:  # (type, value, traceback)
        exc = exc_info[1]
    if exc is not None:
        event["exception"] = _exception_text(exc)
    return event


def _level(level: str) -> int:
    numeric = logging.getLevelName(level.upper())
    return numeric if isinstance(numeric, int) else logging.INFO


def configure_logging(level: str, *, json: bool) -> None:
    numeric = _level(level)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            withhold_exception_text,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    _route_libraries(numeric, [withhold_exception_text, renderer], shared)


def _route_libraries(
    numeric: int, tail: list[structlog.types.Processor], shared: list[structlog.types.Processor]
) -> None:
    """Library records through the same renderer; only OPEN_LOGGERS below WARNING."""
    handler = _LibraryHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LibraryHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING))
    for name in OPEN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)
