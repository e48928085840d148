"""The port the consent read API talks to (storage/consent_state_queries.py adapts it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from rightsflow.domain.consent import Purpose
from rightsflow.domain.consent_state import StoredConsent
from rightsflow.domain.console_metrics import ChoiceCounts


class ConsentStateQueries(Protocol):
    """Reads of the materialised consent state, for rendering (never for the write path)."""

    def state(self, subject_hash: str) -> StoredConsent:
        """One subject (an empty StoredConsent when nothing is stored)."""
        ...

    def states(self, subject_hashes: Sequence[str]) -> Mapping[str, StoredConsent]:
        """Many subjects in one query; every hash asked for is in the result."""
        ...

    def purposes(self) -> Sequence[Purpose]:
        """The purpose catalogue, retired purposes included (their stored states still show)."""
        ...

    def choice_counts(self) -> Mapping[str, ChoiceCounts]:
        """Purpose key -> current choices granting and refusing it (unchosen purposes absent)."""
        ...


@runtime_checkable
class AsyncConsentCache(Protocol):
    """A ConsentCache that can also be read without blocking an event loop (Redis)."""

    async def aget(self, key: str) -> bytes | None: ...
