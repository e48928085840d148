"""Peak memory (VmHWM) and CPU time of processes and all their children, read from /proc.

Linux only. A `Monitor` samples in a thread, so the high-water marks of children that exit
before the end (and CPU time they used) are still counted.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:  # the process ended between listing and reading
        return ""


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            todo.extend(int(c) for c in _read(f"{task}/children").split())
    return found


def hwm_kb(pid: int) -> int:
    """Peak RSS (VmHWM) of one process in KiB; 0 once it has ended."""
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (its own threads; not its children)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0.0
    after_name = stat[stat.rindex(")") + 2 :].split()
    return (int(after_name[11]) + int(after_name[12])) / TICK


@dataclass
class _Seen:
    label: str
    peak_kb: int = 0
    cpu_s: float = 0.0


@dataclass
class Monitor:
    """Samples the peak RSS (VmHWM) and CPU time of some processes and all their children."""

    roots: dict[int, str] = field(default_factory=dict)
    seen: dict[int, _Seen] = field(default_factory=dict)
    interval: float = 0.25
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, pid: int, name: str) -> None:
        with self._lock:
            self.roots[pid] = name

    def forget(self, pid: int) -> None:
        with self._lock:
            self.roots.pop(pid, None)

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True).start()

    def close(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            for root, name in list(self.roots.items()):
                for pid in _descendants(root):
                    label = name if pid == root else f"{name}/{_read(f'/proc/{pid}/comm').strip()}"
                    seen = self.seen.setdefault(pid, _Seen(label))
                    seen.peak_kb = max(seen.peak_kb, hwm_kb(pid))
                    seen.cpu_s = max(seen.cpu_s, cpu_seconds(pid))

    def reset_peaks(self) -> None:
        """Start every high-water mark again from the current RSS (clear_refs, Linux 4.0+)."""
        with self._lock:
            for pid, seen in self.seen.items():
                with contextlib.suppress(OSError):
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                seen.peak_kb = 0
        self.sample()

    def peaks_mib(self) -> dict[str, float]:
        """The largest peak per label (processes of one name, e.g. PostgreSQL backends, share
        a label)."""
        self.sample()
        out: dict[str, float] = {}
        for s in self.seen.values():
            out[s.label] = max(out.get(s.label, 0.0), round(s.peak_kb / 1024, 1))
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds per label, summed over the processes that share it."""
        self.sample()
        out: dict[str, float] = {}
        for s in self.seen.values():
            out[s.label] = round(out.get(s.label, 0.0) + s.cpu_s, 2)
        return out


def cpu_used(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, Any]:
    """CPU seconds per process between two `Monitor.cpu()` readings, and as % of one core."""
    used = {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()}
    return {k: {"cpu_s": v, "pct_of_core": round(100 * v / wall, 1)} for k, v in used.items()}


@contextlib.contextmanager
def monitored() -> Iterator[Monitor]:
    monitor = Monitor()
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.close()
