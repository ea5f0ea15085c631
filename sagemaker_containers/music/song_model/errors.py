"""Errors that end one request with a JSON body; none of them stops the server."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error reported to the caller as `{"error": {"code", "message", "details"?}}`. Each kind
    names its code and HTTP status (500 unless given) in its class line."""

    status = 500
    code = "internal_error"

    def __init_subclass__(cls, *, code: str, status: int = 500, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = code
        cls.status = status

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ServiceError, code="bad_request", status=400):
    """The request cannot be read: a body that is not JSON, an invalid Content-Length."""


class ValidationFailed(ServiceError, code="validation_error", status=422):
    """The request does not match its schema (song_model/schemas.py)."""


class NotFound(ServiceError, code="not_found", status=404):
    """No such route."""


class PayloadTooLarge(ServiceError, code="payload_too_large", status=413):
    """The body is over the server's limit."""


class NotReady(ServiceError, code="not_ready", status=503):
    """The models are still loading."""


class ModelError(ServiceError, code="model_error"):
    """A model failed on this request (bad output, runtime error); the next request may succeed."""


class OutOfMemory(ServiceError, code="out_of_memory"):
    """The GPU ran out of memory on this request; what it held is freed for the next one."""


class StorageError(ServiceError, code="storage_error", status=502):
    """Writing the media to S3 failed (missing bucket, denied, throttled)."""


class SourceMissing(ServiceError, code="source_missing", status=422):
    """An audio-in source that is gone (its song or upload was deleted after the job was queued)."""
