"""The in-process consent cache (the embedded default; Redis at scale, storage/)."""

from __future__ import annotations

import threading
from collections import OrderedDict


class InProcessConsentCache:
    """A bounded LRU of rendered state documents with their versions (thread-safe).

    Satisfies services.consent_ports.ConsentCache. Right for one process only: with several
    API processes, configure Redis so that a write in one invalidates the others."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[int, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, version: int, document: bytes) -> None:
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held[0] > version:
                return  # a newer state is already here: never go back in time
            self._entries[key] = (version, document)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
