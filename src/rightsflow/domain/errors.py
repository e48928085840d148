"""The one exception hierarchy. Messages never contain personal data."""

from __future__ import annotations

from dataclasses import dataclass


class RightsflowError(Exception):
    """Base of every error the platform raises on purpose; `code` is stable for clients."""

    code = "rightsflow-error"


class InvalidInput(RightsflowError):
    """Input that breaks a rule; `field` names where (dotted path) so an API can point at it."""

    code = "invalid-input"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(RightsflowError):
    code = "not-found"


class Conflict(RightsflowError):
    """The request is valid but the current state forbids it (e.g. cancel a completed request)."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A state change the state machine does not allow; `current` names the state it is in."""

    code = "invalid-transition"

    def __init__(self, message: str, current: str | None = None) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class Problem:
    """One problem found in a data map, policy or systems file, with where it is."""

    file: str
    location: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.message}"


class DataMapInvalid(RightsflowError):
    code = "datamap-invalid"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the data map")
        self.problems = problems


class ConnectorFailure(RightsflowError):
    """A target system failed. `retryable` says whether trying again may help."""

    code = "connector-failure"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Refused(RightsflowError):
    """A callback or attestation that does not prove it is the one asked for (unknown call,
    wrong or used token, bad signature). The API answers 401 and the attempt is audited."""

    code = "refused"
