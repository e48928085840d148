"""Sliding-window counters in process memory: what `limits`' sliding-window-counter strategy
does over Redis, for a single API process, at O(1) per request and with no timer thread.

Each key keeps two fixed windows' counts; a request is allowed while
`previous * (share of the previous window still inside the sliding window) + current` is below
the budget. That is the moving window's guarantee within a small error, without its list of one
entry per request (at a budget of 1,000,000/minute the moving window holds a list of up to that
many timestamps per caller, and `limits`' MemoryStorage restarts a 10 ms `threading.Timer` to
expire them: ~13 % of a cached consent read).

Called on the event loop only (one thread per app), so there is no lock. Idle keys are swept
once per `SWEEP_EVERY` seconds, on a hit, so memory follows the number of active callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from math import floor, inf

SWEEP_EVERY = 60.0


@dataclass(slots=True)
class _Window:
    period: float
    index: int  # which fixed window of `period` seconds `current` counts
    current: int
    previous: int


@dataclass(frozen=True, slots=True)
class Count:
    allowed: bool
    remaining: int
    reset_in: float  # seconds until one more request would be allowed / the count drops


class LocalWindows:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[tuple[object, ...], _Window] = {}
        self._next_sweep = clock() + SWEEP_EVERY

    def hit(self, limit: int, period: float, key: tuple[object, ...]) -> Count:
        """Count one request against `limit` per `period` seconds for `key`, if it fits."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        index = int(now // period)
        window = self._windows.get(key)
        if window is None or window.period != period:
            window = self._windows[key] = _Window(period, index, 0, 0)
        elif index != window.index:
            # The current window became the previous one (or both are long gone).
            window.previous = window.current if index == window.index + 1 else 0
            window.current, window.index = 0, index
        left = period - (now - index * period)  # seconds until the current window ends
        weighted = window.previous * (left / period) + window.current
        allowed = weighted + 1 <= limit
        if allowed:
            window.current += 1
            weighted += 1
        # Requests that would still fit now (a fraction of one left does not count).
        return Count(allowed, max(0, floor(limit - weighted)), _reset_in(window, left))

    def _sweep(self, now: float) -> None:
        stale = [k for k, w in self._windows.items() if int(now // w.period) > w.index + 1]
        for key in stale:
            del self._windows[key]
        self._next_sweep = now + SWEEP_EVERY


def _reset_in(window: _Window, left: float) -> float:
    """As `limits`' sliding-window counter reports it: the sooner of the previous window's
    weighted count dropping by one request and the current window ending."""
    previous = left % (window.period / window.previous) if window.previous else inf
    current = left if window.current else inf
    found = min(previous, current)
    return 0.0 if found == inf else found
