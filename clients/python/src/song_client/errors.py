"""Typed exceptions: every error answer of the API becomes an `ApiError` subclass carrying the
API's own `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .models import SongDetail, UploadDetail


class SongClientError(Exception):
    """Base of everything this package raises."""


class ConfigurationError(SongClientError):
    """No API URL or no credential was given (argument, environment or config file)."""


class ApiConnectionError(SongClientError):
    """The API could not be reached (connection refused, timeout, TLS), after the retries."""


class ApiError(SongClientError):
    """An error answer of the API: HTTP `status`, the API's `code`, `message` and `details`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        *,
        retry_after_s: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, HTTP {self.status})"

    def to_dict(self) -> dict[str, Any]:
        """The API's error body, as it was sent."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidRequestError(ApiError):
    """400, 413, 415, 422: the request was refused as sent (`details` names the fields)."""


class AuthenticationError(ApiError):
    """401: no credential, or one the API does not accept (expired, revoked, malformed)."""


class PermissionDeniedError(AuthenticationError):
    """403: the credential may not do this (API Gateway also answers 403 for an unknown route)."""


class InsufficientCreditsError(ApiError):
    """402: the available credits do not cover the song's price (`details` has price and balance)."""


class NotFoundError(ApiError):
    """404: no such song or upload, or another user's."""


class ConflictError(ApiError):
    """409: idempotency conflict, the song's state, a source not ready, an upload in use."""


class RateLimitError(ApiError):
    """429: throttled; `retry_after_s` says when to try again (when the API said so)."""


class ServerError(ApiError):
    """5xx: the service failed; retried with backoff before this is raised."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response, retry_after_s: float | None = None) -> ApiError:
    """The typed error for an error response; a body that is not the API's error shape (a proxy's
    HTML page, say) keeps its status and a short excerpt as the message."""
    code, message, details = f"HTTP{response.status_code}", "", None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        message = str(error.get("message") or "")
        details = error.get("details")
    else:
        message = response.text.strip()[:200] or response.reason_phrase
    if response.status_code >= 500:
        cls: type[ApiError] = ServerError
    else:
        cls = _BY_STATUS.get(response.status_code, ApiError)
    request_id = details.get("correlation_id") if isinstance(details, dict) else None
    return cls(
        response.status_code,
        code,
        message or code,
        details,
        retry_after_s=retry_after_s,
        request_id=request_id,
    )


class UploadError(SongClientError):
    """The file could not be sent to storage with the upload form (S3's own answer)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"storage refused the upload: {message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


class DownloadError(SongClientError):
    """A song's file could not be fetched from storage (S3's own answer)."""

    def __init__(self, name: str, status: int, code: str, message: str) -> None:
        super().__init__(f"download of {name} failed: {message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


class UploadRejectedError(SongClientError):
    """The upload check rejected the file; `upload.error` says why in the API's words."""

    def __init__(self, upload: UploadDetail) -> None:
        error = upload.error
        self.upload = upload
        self.code = error.code if error else "Rejected"
        self.message = error.message if error else "the upload was rejected"
        super().__init__(f"{self.message} ({self.code})")


class WaitTimeoutError(SongClientError, TimeoutError):
    """Waiting ended before the song (or upload) finished; `last` is what was seen last."""

    def __init__(self, message: str, last: SongDetail | UploadDetail) -> None:
        super().__init__(message)
        self.last = last


class SongNotReadyError(SongClientError):
    """The song has no files to download (it is not `processed`)."""
