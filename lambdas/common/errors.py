"""Domain errors. Each carries the stable `code` clients see; the API maps classes to HTTP status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """The base of the service's errors; a subclass's `code` is its class name unless it says."""

    code = "InternalError"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(ServiceError):
    """A request that is malformed or asks for something impossible (400)."""


class NotFound(ServiceError):
    """No such resource, or not the caller's (404)."""


class InsufficientCredits(ServiceError):
    """The user's free credits do not cover the price (402)."""


class JobStateConflict(ServiceError):
    """A state transition was refused because the job is no longer in the expected state."""


class SourceNotReady(ServiceError):
    """An audio-in source that cannot be used yet (an upload still being checked): retry later."""


class SourceUnusable(ServiceError):
    """An audio-in source that can never be used as asked (rejected, expired, window outside it)."""


class ModeUnavailable(ServiceError):
    """A mode this deployment does not offer (stems without the base checkpoint)."""


# Errors raised by the REST API layer (lambdas/api/http_errors.py maps every class to a status).


class Unauthorized(ServiceError):
    """No valid credentials (401)."""


class MalformedJson(InvalidRequest):
    """The body is not strict UTF-8 JSON (bad syntax, duplicate keys, NaN, too deep, ...): 400."""


class InvalidBody(ServiceError):
    """The JSON body does not fit the schema (the API answers 422 with field details)."""

    code = "ValidationError"


class PayloadTooLarge(ServiceError):
    """The body is over the API's size limit (413)."""


class UnsupportedMediaType(ServiceError):
    """A body that is not `application/json` (415)."""


class ServiceUnavailable(ServiceError):
    """A dependency (the workflow, a table) could not take the request; the client may retry."""


class ConcurrentRequests(ServiceError):
    """Too many requests of one user changed the user's balance at once (each one re-reads it and
    tries again a few times first): the client retries after `retry_after_s` (429, Retry-After)."""

    retry_after_s = 1


class UploadInUse(ServiceError):
    """DELETE of an upload a queued or processing song is being made from (409)."""


class UploadQuotaExceeded(ServiceError):
    """The user keeps as many checked uploads as allowed; deleting some makes room (409)."""


class TooManyPendingUploads(ServiceError):
    """The user has as many upload forms out, not checked yet, as allowed (429, Retry-After)."""

    retry_after_s = 60


class PersonaQuotaExceeded(ServiceError):
    """The user keeps as many personas as allowed; deleting one makes room (409)."""


class PersonaInUse(ServiceError):
    """DELETE of a persona a queued or processing song is being sung with (409)."""


class SessionRequired(ServiceError):
    """Key management with an API key: it needs a signed-in session (a Cognito id token), 403."""


class ApiKeyLimitReached(ServiceError):
    """The user has as many API keys as allowed; revoking one makes room (409)."""


class RateLimited(ServiceError):
    """The user's requests (or song submissions) are over their rate: retry after `retry_after_s`
    seconds (429, Retry-After)."""

    def __init__(self, message: str, retry_after_s: int, details: Any = None) -> None:
        super().__init__(message, details)
        self.retry_after_s = retry_after_s
