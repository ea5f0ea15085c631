"""The REST API's routes: thin, HTTP in and out; the work is the services' (lambdas/api/services).

Every operation lists every status it can answer, success first: these decorators and the pydantic
models are the OpenAPI document (lambdas/api/openapi.py). 429 comes from the stage's throttling and
401 from the Lambda authorizer (both API Gateway's, in this error shape; 429 also from the
per-user rate limits, handler.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path

from lambdas.common import errors, media_keys
from lambdas.common.api_keys import KEY_ID_PATTERN, ApiKeyRequest
from lambdas.common.contract import AUTH_BY_ID_TOKEN, AUTH_METHOD_KEY, AUTH_USER_KEY, DOCS_PATH
from lambdas.common.models import SongRequest
from lambdas.common.request_fields import UUID_PATTERN
from lambdas.common.uploads import UploadRequest

from .openapi import docs_page
from .persona_routes import register_personas
from .route_docs import (
    SECURITY,
    NextToken,
    PageSize,
    created_response,
    error_responses,
    no_content,
    ok_response,
)
from .schemas import (
    ApiKeyCreated,
    ApiKeyList,
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
SongId = Annotated[str, Path(pattern=UUID_PATTERN, description="The song's id (a UUID)")]
UploadId = Annotated[str, Path(pattern=UUID_PATTERN, description="The upload's id (a UUID)")]
KeyId = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The API key's id (16 hex characters)")]


def caller_of(event: dict[str, Any]) -> str | None:
    """The user id the authorizer passed on (requestContext.authorizer.sub), None on public routes.
    API Gateway already rejected requests without a valid credential."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = authorizer.get(AUTH_USER_KEY)
    return user_id if isinstance(user_id, str) else None


def current_user_id(app: APIGatewayRestResolver) -> str:
    """The caller's user id (an id token's `sub`, or an API key's owner)."""
    user_id = caller_of(app.current_event.raw_event)
    if user_id is None or not media_keys.is_valid_user_id(user_id):
        raise errors.Unauthorized("missing or invalid identity")
    return user_id


def require_session(app: APIGatewayRestResolver) -> None:
    """Key management: only with an id token (a signed-in person), never with an API key."""
    if app.current_event.request_context.authorizer.get(AUTH_METHOD_KEY) != AUTH_BY_ID_TOKEN:
        raise errors.SessionRequired(
            "managing API keys needs a signed-in session (an id token), not an API key"
        )


def register(app: APIGatewayRestResolver, services: Callable[[], Services]) -> None:
    """Add every route to `app`; `services()` gives what they call (built at the cold start)."""

    def user() -> str:
        return current_user_id(app)

    # Every operation lists every status it can answer, success first. 401 comes from the
    # authorizer, 429 from the stage's throttling (both API Gateway's, in this error shape) or the
    # per-user rate limits.
    @app.get(
        "/health",
        summary="Liveness",
        operation_id="health",
        tags=["ops"],
        responses={**ok_response(200, "The API is up", HealthResponse), **error_responses(429, 500)},
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
            **created_response(
                202,
                "Accepted: the job, queued",
                SongDetail,
                id_parameter="song_id",
                id_field="job_id",
                follow=("getSong", "deleteSong"),
            ),
            **error_responses(400, 401, 402, 404, 409, 413, 415, 422, 429, 500, 503),
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
        responses={**ok_response(200, "One page of songs", SongPage), **error_responses(400, 401, 429, 500)},
    )
    def list_songs(
        limit: PageSize = 20,
        next_token: NextToken = None,
    ) -> SongPage:
        return services().songs.list_songs(user(), limit, next_token)

    @app.get(
        "/songs/<song_id>",
        summary="One song, with download URLs (valid 1 h) once processed",
        operation_id="getSong",
        tags=["songs"],
        security=SECURITY,
        responses={**ok_response(200, "The song", SongDetail), **error_responses(400, 401, 404, 429, 500)},
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
            **ok_response(200, "The canceled song", SongDetail),
            **error_responses(400, 401, 404, 409, 429, 500, 503),
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
        responses={**ok_response(204, "Deleted"), **error_responses(400, 401, 404, 409, 429, 500)},
    )
    def delete_song(song_id: SongId):  # no return annotation: see no_content
        services().songs.delete_song(user(), song_id)
        return no_content()

    @app.get(
        "/me",
        summary="My credits: balance, reserved by songs in progress, available "
        "(the first call creates the user)",
        operation_id="getMe",
        tags=["users"],
        security=SECURITY,
        responses={
            **ok_response(200, "The caller and their credits", MeResponse),
            **error_responses(401, 429, 500),
        },
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
            **ok_response(201, "Created", UploadCreated),
            **error_responses(400, 401, 409, 413, 415, 422, 429, 500),
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
        responses={
            **ok_response(200, "The upload", UploadDetail),
            **error_responses(400, 401, 404, 429, 500),
        },
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
        responses={**ok_response(204, "Deleted"), **error_responses(400, 401, 404, 409, 429, 500)},
    )
    def delete_upload(upload_id: UploadId):  # no return annotation: see no_content
        services().uploads.delete(user(), upload_id)
        return no_content()

    @app.get(
        "/me/webhook-secret",
        summary="My webhook signing secret (created on first use)",
        tags=["users"],
        security=SECURITY,
        responses={**ok_response(200, "The secret", WebhookSecretResponse), **error_responses(401, 429, 500)},
    )
    def webhook_secret() -> WebhookSecretResponse:
        return services().users.webhook_secret(user())

    @app.post(
        "/me/webhook-secret/rotate",
        summary="Replace my webhook signing secret",
        description="Deliveries signed from now on use the new secret, retries of earlier events included.",
        tags=["users"],
        security=SECURITY,
        responses={
            **ok_response(200, "The new secret", WebhookSecretResponse),
            **error_responses(401, 429, 500),
        },
    )
    def rotate_webhook_secret() -> WebhookSecretResponse:
        return services().users.rotate_webhook_secret(user())

    register_personas(app, services, user)

    @app.post(
        "/me/api-keys",
        summary="Create a personal API key (the secret is shown once)",
        operation_id="createApiKey",
        description=(
            "The key acts as you on every route except these three, which need a signed-in session (an "
            "id token; an API key gets 403 `SessionRequired`). Send it as `Authorization: Bearer <secret>`. "
            "Only its hash is stored: keep the secret now. At most `api_key_max_per_user` keys (409 "
            "`ApiKeyLimitReached`)."
        ),
        tags=["users"],
        status_code=201,
        security=SECURITY,
        responses={
            **ok_response(201, "Created: the key and its secret", ApiKeyCreated),
            **error_responses(400, 401, 403, 409, 413, 415, 422, 429, 500),
        },
    )
    def create_api_key(
        request: Annotated[ApiKeyRequest, Body(description="The key's name and optional lifetime")],
    ) -> ApiKeyCreated:
        require_session(app)
        return services().api_keys.create(user(), request)

    @app.get(
        "/me/api-keys",
        summary="My API keys (never their secrets)",
        operation_id="listApiKeys",
        tags=["users"],
        security=SECURITY,
        responses={**ok_response(200, "The keys", ApiKeyList), **error_responses(401, 403, 429, 500)},
    )
    def list_api_keys() -> ApiKeyList:
        require_session(app)
        return services().api_keys.list(user())

    @app.delete(
        "/me/api-keys/<key_id>",
        summary="Revoke an API key",
        operation_id="revokeApiKey",
        description="The key stops working within the authorizer's cache time (docs/api.md: at most 5 "
        "minutes by default).",
        tags=["users"],
        status_code=204,
        security=SECURITY,
        responses={**ok_response(204, "Revoked"), **error_responses(400, 401, 403, 404, 429, 500)},
    )
    def revoke_api_key(key_id: KeyId):  # no return annotation: see no_content
        require_session(app)
        services().api_keys.revoke(user(), key_id)
        return no_content()
