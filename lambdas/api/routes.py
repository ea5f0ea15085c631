"""The REST API's routes: thin, HTTP in and out; the work is the services' (lambdas/api/services).

Every operation lists every status it can answer, success first: these decorators and the pydantic
models are the OpenAPI document (lambdas/api/openapi.py). 429 comes from the stage's throttling and
401 from the Cognito authorizer (both API Gateway's, in this error shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from lambdas.common import errors, media_keys
from lambdas.common.contract import DOCS_PATH
from lambdas.common.models import UUID_PATTERN, SongRequest
from lambdas.common.uploads import UploadRequest

from .openapi import docs_page
from .schemas import (
    ErrorResponse,
    HealthResponse,
    MeResponse,
    SongDetail,
    SongPage,
    UploadCreated,
    UploadDetail,
    WebhookSecretResponse,
)
from .services import Services

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as in the IETF Idempotency-Key draft
SECURITY = [{"cognito": []}]
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying; sent with `ConcurrentRequests`",
    "schema": {"type": "integer", "minimum": 1},
}


def _ok(status: int, description: str, model: type | None = None) -> dict[int | str, dict[str, Any]]:
    content = {"content": {"application/json": {"model": model}}} if model else {}
    return {status: {"description": description, **content}}


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Malformed request (bad JSON, id, query or header)",
        401: "Missing or invalid token",
        402: "The available credits do not cover the song's price (details: price and balance)",
        404: "Not found, or not yours",
        409: "Conflict (or a source not ready yet)",
        413: "Body over the size limit",
        415: "Body is not JSON",
        422: "Invalid input (details lists the fields), or an unusable audio source",
        429: "Throttled, or too many requests of this user at once (ConcurrentRequests): retry, after "
        "Retry-After seconds when it is sent",
        500: "Unexpected error; details carries a correlation id",
        503: "The workflow could not be started; retry",
    }
    responses: dict[int | str, dict[str, Any]] = {
        status: {"description": described[status], "content": {"application/json": {"model": ErrorResponse}}}
        for status in statuses
    }
    if 429 in responses:
        responses[429]["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    return responses


SongId = Annotated[str, Path(pattern=UUID_PATTERN, description="The song's id (a UUID)")]
UploadId = Annotated[str, Path(pattern=UUID_PATTERN, description="The upload's id (a UUID)")]


def _no_content() -> Response:
    """A 204 without a body or a Content-Type. A route returning None would answer `null` as JSON,
    a body a 204 must not have: a client reads those four bytes as the start of its next response
    on the same connection. (A `Response` return annotation would be modelled as a body.)"""
    return Response(status_code=204)


def current_user_id(app: APIGatewayRestResolver) -> str:
    """The Cognito `sub` of the caller. API Gateway already rejected requests without a token."""
    claims = app.current_event.request_context.authorizer.claims or {}
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not media_keys.is_valid_user_id(user_id):
        raise errors.Unauthorized("missing or invalid identity")
    return user_id


def register(app: APIGatewayRestResolver, services: Callable[[], Services]) -> None:
    """Add every route to `app`; `services()` gives what they call (built at the cold start)."""

    def user() -> str:
        return current_user_id(app)

    # Every operation lists every status it can answer, success first. 429 comes from the stage's
    # throttling and 401 from the Cognito authorizer (both API Gateway's, in this error shape).
    @app.get(
        "/health",
        summary="Liveness",
        operation_id="health",
        tags=["ops"],
        responses={**_ok(200, "The API is up", HealthResponse), **_error_responses(429, 500)},
    )
    def health() -> HealthResponse:
        return HealthResponse()

    @app.post(
        "/songs",
        summary="Request a song",
        operation_id="requestSong",
        tags=["songs"],
        status_code=202,
        security=SECURITY,
        responses={
            202: {
                "description": "Accepted: the job, queued",
                "content": {"application/json": {"model": SongDetail}},
                # How a client (or an API tester) follows the new song: its id feeds the song routes.
                "links": {
                    op: {"operationId": op, "parameters": {"song_id": "$response.body#/job_id"}}
                    for op in ("getSong", "deleteSong")
                },
            },
            **_error_responses(400, 401, 402, 404, 409, 413, 415, 422, 429, 500, 503),
        },
    )
    def request_song(
        request: Annotated[
            SongRequest,
            Body(description="Text modes, or audio-in modes with a `source`; chosen by `mode`"),
        ],
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="idempotency-key",
                pattern=IDEMPOTENCY_KEY_PATTERN,
                description="Same key and body: the same job is returned. Same key, other body: 409.",
            ),
        ] = None,
    ) -> SongDetail:
        return services().songs.request_song(user(), request, idempotency_key, app.lambda_context)

    @app.get(
        "/songs",
        summary="List my songs, newest first",
        operation_id="listSongs",
        tags=["songs"],
        security=SECURITY,
        responses={**_ok(200, "One page of songs", SongPage), **_error_responses(400, 401, 429, 500)},
    )
    def list_songs(
        limit: Annotated[int, Query(ge=1, le=50, description="Page size")] = 20,
        next_token: Annotated[
            str | None,
            Query(
                max_length=2048,
                description="The opaque `next_token` of the previous page; any other value is 400",
            ),
        ] = None,
    ) -> SongPage:
        return services().songs.list_songs(user(), limit, next_token)

    @app.get(
        "/songs/<song_id>",
        summary="One song, with download URLs (valid 1 h) once processed",
        operation_id="getSong",
        tags=["songs"],
        security=SECURITY,
        responses={**_ok(200, "The song", SongDetail), **_error_responses(400, 401, 404, 429, 500)},
    )
    def get_song(song_id: SongId) -> SongDetail:
        return services().songs.get_song(user(), song_id)

    @app.post(
        "/songs/<song_id>/cancel",
        summary="Cancel a queued or processing song",
        description="The song ends `canceled` within seconds and is never charged. Repeating it returns the "
        "canceled song again; a song that already finished (processed or failed) is a 409.",
        tags=["songs"],
        security=SECURITY,
        responses={
            **_ok(200, "The canceled song", SongDetail),
            **_error_responses(400, 401, 404, 409, 429, 500, 503),
        },
    )
    def cancel_song(song_id: SongId) -> SongDetail:
        return services().songs.cancel_song(user(), song_id)

    @app.delete(
        "/songs/<song_id>",
        summary="Delete a finished song and its media",
        operation_id="deleteSong",
        description="A song still queued or processing cannot be deleted yet (409).",
        tags=["songs"],
        status_code=204,
        security=SECURITY,
        responses={**_ok(204, "Deleted"), **_error_responses(400, 401, 404, 409, 429, 500)},
    )
    def delete_song(song_id: SongId):  # no return annotation: see _no_content
        services().songs.delete_song(user(), song_id)
        return _no_content()

    @app.get(
        "/me",
        summary="My credits: balance, reserved by songs in progress, available "
        "(the first call creates the user)",
        operation_id="getMe",
        tags=["users"],
        security=SECURITY,
        responses={**_ok(200, "The caller and their credits", MeResponse), **_error_responses(401, 429, 500)},
    )
    def me() -> MeResponse:
        return services().users.me(user())

    @app.get(DOCS_PATH, include_in_schema=False)
    def api_reference():  # no return annotation: Powertools would model `Response` as a body
        """The API reference without a token: the page (Swagger UI), or `?format=json` the document."""
        query = app.current_event.query_string_parameters or {}
        context = app.current_event.request_context
        # Under the stage (`/v1/docs`) on the execute-api URL; at the root behind a custom domain.
        base_path = f"/{context.stage}" if context.path.startswith(f"/{context.stage}/") else ""
        want_json = query.get("format") == "json"
        content_type, body = docs_page(app, base_path, want_json, services().upload_max_bytes)
        return Response(status_code=200, content_type=content_type, body=body)

    @app.post(
        "/uploads",
        summary="Start an upload of a source track (presigned POST form)",
        operation_id="createUpload",
        description=(
            "Returns a form for S3: POST `fields` and then the file (as the `file` field) to `url`. The "
            "form accepts exactly the declared type and size. The upload check then decodes the file; "
            "follow it with GET /uploads/{upload_id}. Per user, at most `upload_max_pending` forms whose "
            "files are not checked yet (429 `TooManyPendingUploads`, with Retry-After) and "
            "`upload_max_stored` checked uploads that have not expired (409 `UploadQuotaExceeded`)."
        ),
        tags=["uploads"],
        status_code=201,
        security=SECURITY,
        responses={
            **_ok(201, "Created", UploadCreated),
            **_error_responses(400, 401, 409, 413, 415, 422, 429, 500),
        },
    )
    def create_upload(
        request: Annotated[UploadRequest, Body(description="The file about to be sent")],
    ) -> UploadCreated:
        return services().uploads.create(user(), request)

    @app.get(
        "/uploads/<upload_id>",
        summary="An upload and the result of its check",
        tags=["uploads"],
        security=SECURITY,
        responses={**_ok(200, "The upload", UploadDetail), **_error_responses(400, 401, 404, 429, 500)},
    )
    def get_upload(upload_id: UploadId) -> UploadDetail:
        return services().uploads.get(user(), upload_id)

    @app.delete(
        "/uploads/<upload_id>",
        summary="Delete an upload",
        description=(
            "Deletes the upload's file and record. Songs made from it keep their own audio. While a song "
            "made from it is still queued or processing, the answer is 409 `UploadInUse`."
        ),
        tags=["uploads"],
        status_code=204,
        security=SECURITY,
        responses={**_ok(204, "Deleted"), **_error_responses(400, 401, 404, 409, 429, 500)},
    )
    def delete_upload(upload_id: UploadId):  # no return annotation: see _no_content
        services().uploads.delete(user(), upload_id)
        return _no_content()

    @app.get(
        "/me/webhook-secret",
        summary="My webhook signing secret (created on first use)",
        tags=["users"],
        security=SECURITY,
        responses={**_ok(200, "The secret", WebhookSecretResponse), **_error_responses(401, 429, 500)},
    )
    def webhook_secret() -> WebhookSecretResponse:
        return services().users.webhook_secret(user())

    @app.post(
        "/me/webhook-secret/rotate",
        summary="Replace my webhook signing secret",
        description="Deliveries signed from now on use the new secret, retries of earlier events included.",
        tags=["users"],
        security=SECURITY,
        responses={**_ok(200, "The new secret", WebhookSecretResponse), **_error_responses(401, 429, 500)},
    )
    def rotate_webhook_secret() -> WebhookSecretResponse:
        return services().users.rotate_webhook_secret(user())
