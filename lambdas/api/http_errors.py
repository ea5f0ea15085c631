"""The one place where exceptions become HTTP responses: `{"error": {"code", "message", "details"?}}`.

- 400 the request itself is malformed (bad JSON, bad path/query/header value, bad next_token)
- 401 no usable identity; 402 not enough credits; 403 key management with an API key (it needs a
  signed-in session); 404 missing or another user's song (or upload, persona, or API key)
- 409 the user's API keys at their cap, idempotency conflict, a song that cannot be deleted yet, an
  upload still being checked, an upload a song in flight is made from (DELETE), the user's stored
  uploads at their quota, a persona a song in flight is sung with (DELETE), or the user's personas
  at their cap
- 413 body over the size limit
- 415 not JSON; 422 the JSON body fails the schema (field-level details), or an audio source that
  cannot be used (rejected or expired upload, a window outside it), or a mode switched off
- 429 throttled downstream, one user's requests racing for the user's balance, too many of the
  user's upload forms not checked yet, or the user over their request or submission rate (all
  three with Retry-After)
- 503 the workflow could not be started; 500 anything else, with the Lambda request id as
  correlation id and never a stack trace.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError as PowertoolsServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from botocore.exceptions import ClientError

from lambdas.common import errors
from lambdas.common.models import SONG_MODES
from lambdas.common.observability import logger
from lambdas.common.request_fields import SAFE_TEXT_PATTERN

STATUS_BY_ERROR: dict[type[errors.ServiceError], int] = {
    errors.InvalidRequest: 400,
    errors.Unauthorized: 401,
    errors.InsufficientCredits: 402,
    errors.NotFound: 404,
    errors.JobStateConflict: 409,
    errors.SourceNotReady: 409,
    errors.SourceUnusable: 422,
    errors.ModeUnavailable: 422,
    errors.PayloadTooLarge: 413,
    errors.InvalidBody: 422,
    errors.UnsupportedMediaType: 415,
    errors.ServiceUnavailable: 503,
    errors.ConcurrentRequests: 429,
    errors.UploadInUse: 409,
    errors.UploadQuotaExceeded: 409,
    errors.TooManyPendingUploads: 429,
    errors.PersonaQuotaExceeded: 409,
    errors.PersonaInUse: 409,
    errors.SessionRequired: 403,
    errors.ApiKeyLimitReached: 409,
    errors.RateLimited: 429,
}
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "Throttling"}
)
# Request parts other than the body: a bad value there is a malformed request (400), not a body
# that fails its schema (422).
_REQUEST_PARTS = frozenset({"path", "query", "header", "cookie"})


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(error_body(code, message, details)),
        headers=headers,
    )


def from_service_error(exc: errors.ServiceError) -> Response:
    # The most specific class wins (a subclass may have its own status).
    status = next((STATUS_BY_ERROR[c] for c in type(exc).__mro__ if c in STATUS_BY_ERROR), 500)
    retry_after = getattr(exc, "retry_after_s", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return error_response(status, exc.code, exc.message, exc.details, headers)


def from_validation_error(exc: RequestValidationError) -> Response:
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return error_response(400, "MalformedJson", "the request body is not valid JSON")
    details = [_field_error(p) for p in problems]
    if all(p["loc"] and p["loc"][0] in _REQUEST_PARTS for p in problems):
        return error_response(400, "InvalidRequest", "the request has invalid parameters", details)
    return error_response(422, "ValidationError", "the request body is not valid", details)


def _field_error(problem: dict[str, Any]) -> dict[str, str]:
    # Nothing the client sent is echoed back: not the offending value (it may be large, and it is
    # the client's own data), nor a name the client made up (an unknown field, an unknown mode).
    loc = [str(part) for part in problem.get("loc", ())]
    kind = str(problem.get("type"))
    if len(loc) >= 3 and loc[0] == "body" and loc[1] in SONG_MODES:
        # pydantic names the union member (`body.custom_lyrics.prompt`); clients sent `prompt`.
        del loc[1]
    message = str(problem.get("msg", ""))
    ctx = problem.get("ctx") or {}
    if kind == "extra_forbidden":
        loc, message = loc[:-1], "unknown fields are not allowed (the API reference lists the fields)"
    elif kind == "union_tag_invalid":
        message = f"{ctx.get('discriminator', 'the tag')} must be one of {ctx.get('expected_tags', '')}"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == SAFE_TEXT_PATTERN:
        message = "must not contain control characters other than line breaks and tabs"
    return {"field": ".".join(loc), "message": message, "type": kind}


def from_idempotency_error(exc: Exception) -> Response:
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError

    if isinstance(exc, IdempotencyValidationError):
        return error_response(
            409, "IdempotencyConflict", "this Idempotency-Key was already used with a different body"
        )
    return error_response(
        409, "IdempotencyInProgress", "a request with this Idempotency-Key is still in progress, retry later"
    )


def from_routing_error(exc: PowertoolsServiceError) -> Response:
    """Powertools' own errors, e.g. an unknown route or method (404/405)."""
    status = HTTPStatus(exc.status_code)
    return error_response(status, status.phrase.replace(" ", ""), exc.msg)


def from_unexpected(exc: Exception, request_id: str) -> Response:
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLING_CODES:
        logger.warning("downstream throttling", extra={"error_code": exc.response["Error"]["Code"]})
        return error_response(429, "TooManyRequests", "the service is busy, retry with backoff")
    logger.error("unhandled error", exc_info=exc, extra={"correlation_id": request_id})
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "InternalError",
        "an unexpected error occurred",
        {"correlation_id": request_id},
    )


def register(app: APIGatewayRestResolver) -> None:
    """Install the exception handlers on the resolver (the only place that does)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    app.exception_handler(errors.ServiceError)(from_service_error)
    app.exception_handler(RequestValidationError)(from_validation_error)
    # The pre-routing media type check answers first; this is the resolver's own, kept as a 415.
    app.exception_handler(RequestUnsupportedContentType)(
        lambda _exc: from_service_error(errors.UnsupportedMediaType("send the body as JSON"))
    )
    app.exception_handler(PowertoolsServiceError)(from_routing_error)
    app.exception_handler([IdempotencyValidationError, IdempotencyAlreadyInProgressError])(
        from_idempotency_error
    )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        context = app.lambda_context
        return from_unexpected(exc, getattr(context, "aws_request_id", "unknown"))
