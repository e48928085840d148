"""The worker's batching of concurrent steps: who shares a batch, and who gets which outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from rightsflow.workflows.coalescer import Coalescer


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __call__(self, steps: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(steps))
        return [ValueError(f"step {s}") if s < 0 else s * 10 for s in steps]


async def test_steps_arriving_together_run_as_one_batch_each_with_its_own_outcome() -> None:
    runner = Recorder()
    batcher: Coalescer[int, int] = Coalescer(runner, window_s=0.05)
    results = await asyncio.gather(
        *(batcher.run("customers", s) for s in (1, 2, -3, 4)), return_exceptions=True
    )
    assert runner.batches == [[1, 2, -3, 4]]
    assert results[:2] == [10, 20]
    assert results[3] == 40
    assert isinstance(results[2], ValueError)
    assert str(results[2]) == "step -3"


async def test_batches_are_per_key_and_capped() -> None:
    runner = Recorder()
    batcher: Coalescer[int, int] = Coalescer(runner, window_s=0.05, max_batch=2)
    await asyncio.gather(
        *(batcher.run("a", s) for s in (1, 2, 3)), *(batcher.run("b", s) for s in (7,))
    )
    assert sorted(runner.batches) == [[1, 2], [3], [7]]
    assert (batcher.batches, batcher.steps) == (3, 4)


async def test_a_lone_step_does_not_wait_the_window_when_nothing_else_runs() -> None:
    runner = Recorder()
    batcher: Coalescer[int, int] = Coalescer(runner, window_s=30, busy=lambda: False)
    assert await asyncio.wait_for(batcher.run("a", 5), timeout=5) == 50


async def test_a_runner_that_crashes_fails_every_step_of_its_batch() -> None:
    def crash(_: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("boom")

    batcher: Coalescer[int, int] = Coalescer(crash, window_s=0.01)
    results = await asyncio.gather(batcher.run("a", 1), batcher.run("a", 2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await batcher.run("a", 3)
