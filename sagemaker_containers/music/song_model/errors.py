"""Errors that end one request with a JSON body; none of them stops the server."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error reported to the caller as `{"error": {"code", "message", "details"?}}`."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_error"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class NotReady(ServiceError):
    status = 503
    code = "not_ready"


class ModelError(ServiceError):
    """A model failed on this request (bad output, runtime error); the next request may succeed."""

    code = "model_error"


class OutOfMemory(ServiceError):
    code = "out_of_memory"


class StorageError(ServiceError):
    """Writing the media to S3 failed (missing bucket, denied, throttled)."""

    status = 502
    code = "storage_error"


class SourceMissing(ServiceError):
    """An audio-in source that is gone (its song or upload was deleted after the job was queued)."""

    status = 422
    code = "source_missing"
