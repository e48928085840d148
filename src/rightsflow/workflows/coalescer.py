"""DataLoader-style batching of concurrent activities in one worker process.

Steps of the same kind on the same collection that arrive within `window_s` of the first (or
until `max_batch` are waiting) run as one batch in a worker thread; each caller gets its own
outcome back (a count, or its own exception). A lone step waits at most the window, and not at
all when nothing else is running that could join it (`busy`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

S = TypeVar("S")  # one step
R = TypeVar("R")  # its result
# Runs a batch: one outcome (result or exception) per step, in order.
BatchRunner = Callable[[Sequence[S]], list[R | BaseException]]


@dataclass
class _Pending(Generic[S, R]):
    steps: list[S] = field(default_factory=list)
    futures: list[asyncio.Future[R]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class Coalescer(Generic[S, R]):
    """Batches steps per key; `run(key, step)` resolves with that step's own outcome."""

    def __init__(
        self,
        runner: BatchRunner[S, R],
        *,
        window_s: float = 0.005,
        max_batch: int = 100,
        busy: Callable[[], bool] = lambda: True,
    ) -> None:
        self._runner = runner
        self._window_s = window_s
        self._busy = busy  # False: nothing else could join the batch, do not wait the window
        self._max_batch = max_batch
        self._pending: dict[object, _Pending[S, R]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # how many batches ran (for tests and metrics)
        self.steps = 0

    async def run(self, key: object, step: S) -> R:
        loop = asyncio.get_running_loop()
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending()
            window = self._window_s if self._busy() else 0.0
            pending.timer = loop.call_later(window, self._flush, key)
        future: asyncio.Future[R] = loop.create_future()
        pending.steps.append(step)
        pending.futures.append(future)
        if len(pending.steps) >= self._max_batch:
            self._flush(key)
        return await future

    def _flush(self, key: object) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._execute(pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, pending: _Pending[S, R]) -> None:
        self.batches += 1
        self.steps += len(pending.steps)
        try:
            outcomes = await asyncio.to_thread(self._runner, pending.steps)
        except BaseException as exc:  # every caller gets the batch's failure
            outcomes = [exc] * len(pending.steps)
        for future, outcome in zip(pending.futures, outcomes, strict=True):
            if future.done():  # the caller's activity was cancelled meanwhile
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
