"""The in-process sliding-window counters of the rate limits (api/rate_windows.py)."""

from __future__ import annotations

from rightsflow.api.rate_windows import SWEEP_EVERY, LocalWindows

KEY = ("principal", "client-1")


class Clock:
    def __init__(self, now: float = 1_000_040.0) -> None:  # 20 s into a 60 s window
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_budget_counts_down_then_refuses_until_the_window_moves() -> None:
    clock = Clock()
    windows = LocalWindows(clock)
    counts = [windows.hit(3, 60, KEY) for _ in range(4)]
    assert [c.allowed for c in counts] == [True, True, True, False]
    assert [c.remaining for c in counts] == [2, 1, 0, 0]
    assert 0 < counts[3].reset_in <= 40  # the rest of the current window
    clock.now += 40  # a new window; the previous one still weighs 3 * (60/60)
    assert not windows.hit(3, 60, KEY).allowed
    clock.now += 25  # 25 s in: 3 * 35/60 = 1.75 counted, one more fits
    assert windows.hit(3, 60, KEY).allowed
    assert not windows.hit(3, 60, KEY).allowed


def test_no_burst_of_twice_the_budget_across_a_window_boundary() -> None:
    clock = Clock(1_000_079.0)  # 1 s before a window ends
    windows = LocalWindows(clock)
    assert sum(windows.hit(10, 60, KEY).allowed for _ in range(20)) == 10
    clock.now += 2  # 1 s into the next window: the previous ten still count ~9.8
    assert sum(windows.hit(10, 60, KEY).allowed for _ in range(20)) == 0


def test_keys_are_counted_apart_and_idle_ones_are_swept() -> None:
    clock = Clock()
    windows = LocalWindows(clock)
    assert windows.hit(1, 60, KEY).allowed
    assert windows.hit(1, 60, ("principal", "client-2")).allowed
    assert not windows.hit(1, 60, KEY).allowed
    clock.now += max(SWEEP_EVERY, 120) + 1
    windows.hit(1, 60, ("principal", "client-3"))
    assert len(windows._windows) == 1  # memory follows the active callers
    assert windows.hit(1, 60, KEY).allowed
