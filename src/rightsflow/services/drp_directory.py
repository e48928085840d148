"""The DRP service directory (agents.json), cached.

Loaded on first use and again after `refresh_s` (keys rotate, agents leave). An agent we do not
know triggers one early reload, at most once every `unknown_retry_s` whatever the id asked for,
so a stream of made-up ids cannot make us fetch the directory in a loop. A failed reload keeps
the last good copy; with none, nobody is known (and every agent is refused as unknown).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from rightsflow.domain.drp_status import DirectoryAgent, parse_directory
from rightsflow.domain.errors import RightsflowError
from rightsflow.services.ports import Clock

log = structlog.get_logger("rightsflow.drp")

Fetch = Callable[[], bytes]  # the directory's bytes, from a file or a URL; raises OSError


@dataclass
class _Loaded:
    agents: Mapping[str, DirectoryAgent] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    at: datetime | None = None  # when it was last fetched (or tried)
    ok: bool = False


class AgentDirectory:
    """Thread-safe: routes may run in a thread pool."""

    def __init__(
        self,
        fetch: Fetch,
        clock: Clock,
        refresh_s: float = 3600.0,
        unknown_retry_s: float = 60.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._refresh = timedelta(seconds=refresh_s)
        self._retry = timedelta(seconds=unknown_retry_s)
        self._lock = threading.Lock()
        self._loaded = _Loaded()
        self.fetches = 0  # how many times the source was read (tests and metrics)

    def agent(self, agent_id: str) -> DirectoryAgent | None:
        with self._lock:
            now = self._clock()
            if self._due(now, self._refresh):
                self._load(now)
            found = self._loaded.agents.get(agent_id)
            if found is None and self._due(now, self._retry):
                self._load(now)
                found = self._loaded.agents.get(agent_id)
            return found

    def snapshot(self, reload: bool = False) -> tuple[list[DirectoryAgent], list[str]]:
        """Every agent known, and what was wrong with the entries left out."""
        with self._lock:
            now = self._clock()
            if reload or self._due(now, self._refresh):
                self._load(now)
            agents = sorted(self._loaded.agents.values(), key=lambda a: a.id)
            return agents, list(self._loaded.problems)

    def _due(self, now: datetime, after: timedelta) -> bool:
        return self._loaded.at is None or now - self._loaded.at >= after

    def _load(self, now: datetime) -> None:
        self._loaded.at = now  # also on failure: the retry limits hold for a broken source
        self.fetches += 1
        try:
            agents, problems = parse_directory(self._fetch())
        except (OSError, RightsflowError) as exc:
            # The source's own message may name a path or a URL with credentials: type only.
            log.warning("drp_directory_unavailable", error=type(exc).__name__, kept=self._loaded.ok)
            return
        if problems:
            log.warning("drp_directory_entries_skipped", count=len(problems))
        self._loaded = _Loaded(agents, problems, now, ok=True)
