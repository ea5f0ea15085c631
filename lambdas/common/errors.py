"""Domain errors. Each carries the stable `code` clients see; the API maps classes to HTTP status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "InternalError"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(ServiceError):
    code = "InvalidRequest"


class NotFound(ServiceError):
    code = "NotFound"


class InsufficientCredits(ServiceError):
    code = "InsufficientCredits"


class Conflict(ServiceError):
    code = "Conflict"


class JobStateConflict(ServiceError):
    """A state transition was refused because the job is no longer in the expected state."""

    code = "JobStateConflict"
