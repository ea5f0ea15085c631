"""REST API Lambda: routes (thin) -> SongService (logic) -> repositories and adapters (data access).

Handler path: `lambdas.api.handler.lambda_handler`. The caller's identity is only ever the
Cognito authorizer's `sub` claim. No AWS call happens at import time.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths

from lambdas.common import errors, media_keys
from lambdas.common.models import SongRequest
from lambdas.common.observability import logger, metrics, tracer
from lambdas.common.settings import cors_allow_origins, get_settings

from . import http_errors
from .schemas import (
    ErrorResponse,
    HealthResponse,
    MeResponse,
    SongDetail,
    SongPage,
    WebhookSecretResponse,
)
from .service import SongService

# The largest valid body is ~6 KiB of text; 64 KiB leaves room for JSON escapes (\uXXXX) and
# stops anything bigger before it is parsed.
MAX_BODY_BYTES = 64 * 1024
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as in the IETF Idempotency-Key draft
SECURITY = [{"cognito": []}]

# GET requests emit no business metric; Powertools would warn on every one of them.
warnings.filterwarnings("ignore", message="No application metrics to publish")

_origins = cors_allow_origins()
CORS = CORSConfig(
    allow_origin=_origins[0],
    extra_origins=_origins[1:],
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    max_age=3600,
)
app = APIGatewayRestResolver(enable_validation=True, cors=CORS)
http_errors.register(app)


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Malformed request (bad JSON, id, query or header)",
        401: "Missing or invalid token",
        402: "The available credits do not cover the song's price (details: price and balance)",
        404: "Not found, or not yours",
        409: "Conflict",
        413: "Body over the size limit",
        415: "Body is not JSON",
        422: "Invalid input; details lists the fields",
        429: "Throttled",
        500: "Unexpected error; details carries a correlation id",
        503: "The workflow could not be started; retry",
    }
    return {
        status: {"description": described[status], "content": {"application/json": {"model": ErrorResponse}}}
        for status in statuses
    }


SongId = Annotated[str, Path(pattern=UUID_PATTERN, description="The song's id (a UUID)")]


def current_user_id() -> str:
    """The Cognito `sub` of the caller. API Gateway already rejected requests without a token."""
    claims = app.current_event.request_context.authorizer.claims or {}
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not media_keys.is_valid_user_id(user_id):
        raise errors.Unauthorized("missing or invalid identity")
    return user_id


def service() -> SongService:
    return SongService(settings=get_settings())


@app.get("/health", summary="Liveness", tags=["ops"], responses=_error_responses(422, 500))
def health() -> HealthResponse:
    return HealthResponse()


@app.post(
    "/songs",
    summary="Request a song",
    tags=["songs"],
    status_code=202,
    security=SECURITY,
    response_description="The job, queued",
    responses={
        202: {"description": "Accepted", "content": {"application/json": {"model": SongDetail}}},
        **_error_responses(400, 401, 402, 409, 413, 415, 422, 429, 500, 503),
    },
)
def request_song(
    request: Annotated[SongRequest, Body(description="One of three modes, chosen by `mode`")],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="idempotency-key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Same key and body: the same job is returned. Same key, other body: 409.",
        ),
    ] = None,
) -> SongDetail:
    return service().request_song(current_user_id(), request, idempotency_key, app.lambda_context)


@app.get(
    "/songs",
    summary="List my songs, newest first",
    tags=["songs"],
    security=SECURITY,
    responses=_error_responses(400, 401, 422, 429, 500),
)
def list_songs(
    limit: Annotated[int, Query(ge=1, le=50, description="Page size")] = 20,
    next_token: Annotated[str | None, Query(max_length=2048, description="From the previous page")] = None,
) -> SongPage:
    return service().list_songs(current_user_id(), limit, next_token)


@app.get(
    "/songs/<song_id>",
    summary="One song, with download URLs (valid 1 h) once processed",
    tags=["songs"],
    security=SECURITY,
    responses=_error_responses(400, 401, 404, 422, 429, 500),
)
def get_song(song_id: SongId) -> SongDetail:
    return service().get_song(current_user_id(), song_id)


@app.post(
    "/songs/<song_id>/cancel",
    summary="Cancel a queued or processing song",
    description="The song ends `canceled` within seconds and is never charged. Repeating it returns the "
    "canceled song again; a song that already finished (processed or failed) is a 409.",
    tags=["songs"],
    security=SECURITY,
    responses=_error_responses(400, 401, 404, 409, 422, 429, 500, 503),
)
def cancel_song(song_id: SongId) -> SongDetail:
    return service().cancel_song(current_user_id(), song_id)


@app.delete(
    "/songs/<song_id>",
    summary="Delete a finished song and its media",
    description="A song still queued or processing cannot be deleted yet (409).",
    tags=["songs"],
    status_code=204,
    security=SECURITY,
    responses={204: {"description": "Deleted"}, **_error_responses(400, 401, 404, 409, 422, 429, 500)},
)
def delete_song(song_id: SongId) -> None:
    service().delete_song(current_user_id(), song_id)


@app.get(
    "/me",
    summary="My credits: balance, reserved by songs in progress, available (the first call creates the user)",
    tags=["users"],
    security=SECURITY,
    responses=_error_responses(401, 422, 429, 500),
)
def me() -> MeResponse:
    return service().me(current_user_id())


@app.get(
    "/me/webhook-secret",
    summary="My webhook signing secret (created on first use)",
    tags=["users"],
    security=SECURITY,
    responses=_error_responses(401, 422, 429, 500),
)
def webhook_secret() -> WebhookSecretResponse:
    return service().webhook_secret(current_user_id())


@app.post(
    "/me/webhook-secret/rotate",
    summary="Replace my webhook signing secret",
    description="Deliveries signed from now on use the new secret, retries of earlier events included.",
    tags=["users"],
    security=SECURITY,
    responses=_error_responses(401, 422, 429, 500),
)
def rotate_webhook_secret() -> WebhookSecretResponse:
    return service().rotate_webhook_secret(current_user_id())


def reject_before_routing(event: dict[str, Any]) -> errors.ServiceError | None:
    """Checks that must run before Powertools parses the body (its validation runs first)."""
    body = event.get("body")
    if not body:
        return None
    if len(body.encode() if isinstance(body, str) else body) > MAX_BODY_BYTES:
        return errors.PayloadTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    content_type = (headers.get("content-type") or content_types.APPLICATION_JSON).lower()
    if not content_type.startswith(content_types.APPLICATION_JSON):
        return errors.UnsupportedMediaType("send the body as JSON with Content-Type: application/json")
    if (body if isinstance(body, str) else body.decode(errors="replace")).lstrip().startswith("["):
        # Powertools would validate the first element of a JSON array as if it were the body.
        return errors.InvalidBody(
            "the request body is not valid",
            [{"field": "body", "message": "must be a JSON object", "type": "model_type"}],
        )
    return None


def _proxy_response(exc: errors.ServiceError, event: dict[str, Any]) -> dict[str, Any]:
    response = http_errors.from_service_error(exc)
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), None)
    headers = {"Content-Type": content_types.APPLICATION_JSON}
    headers.update(CORS.to_dict(CORS.allowed_origin(origin)))
    return {"statusCode": response.status_code, "headers": headers, "body": response.body}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.set_default_dimensions(stage=get_settings().stage_name)
    rejected = reject_before_routing(event)
    if rejected is not None:
        logger.info("request rejected before routing", extra={"error_code": rejected.code})
        return _proxy_response(rejected, event)
    return app.resolve(event, context)
