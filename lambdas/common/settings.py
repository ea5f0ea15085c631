"""What each function reads from its environment: one pydantic model per function.

A function validates its settings once, at its first invocation (lambdas/common/runtime.py): a
missing or malformed variable fails that invocation with a message that names it, before any AWS
call. Each model lists only what its function uses. A field's variable is its name in upper case
(`jobs_table_name` <- JOBS_TABLE_NAME); the CDK app and the local stack give each function exactly
the variables of its model (`lambdas.common.contract.function_environment`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Name = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=1)]


class SettingsError(RuntimeError):
    """A function's environment lacks a variable its settings need, or holds an invalid value."""


class FunctionSettings(BaseModel):
    model_config = ConfigDict(alias_generator=str.upper, populate_by_name=True, frozen=True, extra="ignore")

    stage_name: Name  # the deployment's stage (the metrics' `stage` dimension)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> environment variable, for every field of the model."""
        return {name: field.alias or name.upper() for name, field in cls.model_fields.items()}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in `environ` (default: the process environment), validated."""
        environ = os.environ if environ is None else environ
        variables = cls.variables().values()
        try:
            return cls.model_validate({name: environ[name] for name in variables if name in environ})
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                variable = str(error["loc"][0]) if error["loc"] else "?"
                problem = "is not set" if error["type"] == "missing" else f"is not valid: {error['msg']}"
                problems.append(f"{variable} {problem}")
            raise SettingsError(f"{cls.__name__}: " + "; ".join(problems)) from None


# --- what several functions need -------------------------------------------------------------------


class _Jobs(FunctionSettings):
    jobs_table_name: Name


class _Users(FunctionSettings):
    users_table_name: Name


class _Media(FunctionSettings):
    media_bucket_name: Name


class _Scratch(FunctionSettings):
    inference_bucket_name: Name  # the inference (scratch) bucket


class _Uploads(FunctionSettings):
    uploads_table_name: Name
    uploads_bucket_name: Name


class _Events(FunctionSettings):
    event_bus_name: Name  # lifecycle events (lambdas/common/lifecycle.py)


class UserQueueSettings(_Jobs, _Users):
    """The per-user limit and its queue (lambdas/workflow/slots.py)."""

    max_concurrent_jobs_per_user: Count
    # The state machine's timeout: a queued job older than this has no live execution, so it no
    # longer holds its place in the user's queue.
    workflow_timeout_seconds: Count


class _ApiKeys(FunctionSettings):
    api_keys_table_name: Name


class _Webhooks(FunctionSettings):
    # Local development only (the local stack sets it; the deployed stack never does): webhooks
    # may go to http://127.0.0.1. See lambdas/common/url_safety.py.
    webhook_allow_http_loopback: bool = False


# --- one model per function (the package under lambdas/) ------------------------------------------


class ApiSettings(_Jobs, _Users, _Media, _Uploads, _Events, _Webhooks, _ApiKeys):
    idempotency_table_name: Name
    personas_table_name: Name
    persona_max_per_user: Count  # personas one user may keep (POST /personas: 409 beyond)
    state_machine_arn: Name
    signup_credits: Annotated[int, Field(ge=0)]
    credits_per_minute: Count  # the price: credits per started minute of audio, per take
    transcribe_credits: Count  # the price of MIDI: credits per request
    # The queue ETA (lambdas/api/queue_estimate.py): songs older than the workflow's timeout have no
    # execution; the endpoint renders on at most this many instances, one song each at a time.
    workflow_timeout_seconds: Count
    endpoint_max_instances: Count
    upload_max_mb: Count
    upload_max_duration_seconds: Count
    upload_expiry_days: Count
    upload_max_pending: Count  # per user: forms handed out whose files are not checked yet
    upload_max_stored: Count  # per user: checked uploads not expired (or kept by a song)
    stems_enabled: bool
    cors_allow_origins: Name  # browser origins the API answers with CORS headers, comma-separated
    api_key_max_per_user: Count  # POST /me/api-keys beyond it: 409 ApiKeyLimitReached
    # Per-user rate limits (lambdas/common/store/rate_limits.py): every request, and song submissions.
    rate_limits_table_name: Name
    user_requests_per_minute: Count
    user_request_burst: Count
    user_submissions_per_hour: Count
    user_submission_burst: Count

    @property
    def upload_max_bytes(self) -> int:
        return self.upload_max_mb * 1024 * 1024

    @property
    def origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip()]


class AuthorizerSettings(_ApiKeys):
    """The REST API's Lambda authorizer: Cognito id tokens of one pool and app client, or API keys."""

    user_pool_issuer: Name  # https://cognito-idp.<region>.amazonaws.com/<pool id>: the `iss` claim
    user_pool_client_id: Name  # the `aud` claim of the app client's id tokens
    # Where the pool's signing keys are; default: the issuer's /.well-known/jwks.json. Only the
    # local stack sets it (moto serves the keys on its own port, the issuer names AWS).
    user_pool_jwks_url: Name | None = None

    @property
    def jwks_url(self) -> str:
        return self.user_pool_jwks_url or f"{self.user_pool_issuer}/.well-known/jwks.json"


class AcquireSlotSettings(UserQueueSettings):
    pass


class StartInferenceSettings(_Jobs, _Scratch, _Events):
    endpoint_name: Name
    # SageMaker's RequestTTLSeconds: a request the workflow stopped waiting for is not computed.
    inference_timeout_seconds: Count


class PublishSongSettings(_Jobs, _Media, _Scratch):
    pass


class FinalizeJobSettings(UserQueueSettings, _Media, _Scratch, _Uploads, _Events):
    pass


class ReaperSettings(UserQueueSettings, _Media, _Scratch, _Events):
    pass


class InferenceCallbackSettings(_Jobs, _Scratch):
    pass


class UploadCheckSettings(_Uploads):
    upload_max_duration_seconds: Count
    upload_analyzer_function_name: Name  # invoked once a file is accepted (loudness, tempo, key)


class WebhookSenderSettings(_Jobs, _Users, _Webhooks):
    pass


FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    "api": ApiSettings,
    "authorizer": AuthorizerSettings,
    "acquire_slot": AcquireSlotSettings,
    "start_inference": StartInferenceSettings,
    "publish_song": PublishSongSettings,
    "finalize_job": FinalizeJobSettings,
    "reaper": ReaperSettings,
    "inference_callback": InferenceCallbackSettings,
    "upload_check": UploadCheckSettings,
    "webhook_sender": WebhookSenderSettings,
}
