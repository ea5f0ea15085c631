"""Runtime settings from environment variables, read on first use (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Settings:
    stage_name: str
    jobs_table_name: str
    users_table_name: str
    idempotency_table_name: str
    media_bucket_name: str
    inference_bucket_name: str
    state_machine_arn: str
    endpoint_name: str
    signup_credits: int
    credits_per_minute: int  # the price: credits per started minute of audio, per take
    max_concurrent_jobs_per_user: int
    # Workflow only. SageMaker's RequestTTLSeconds: a request the workflow stopped waiting for is
    # not computed.
    inference_timeout_s: int = 2700
    # Workflow only. The state machine's own timeout: a queued job older than this has no live
    # execution, so it no longer holds its place in the user's queue.
    max_execution_s: int = 86400
    presigned_url_ttl_s: int = 3600
    # Audio uploads (lambdas/common/uploads.py): table, bucket and the limits cdk.json sets.
    uploads_table_name: str = ""
    uploads_bucket_name: str = ""
    upload_max_bytes: int = 50 * 1024 * 1024
    upload_max_duration_s: int = 600
    upload_expiry_days: int = 7
    upload_form_ttl_s: int = 900  # how long the presigned POST form is valid
    upload_max_pending: int = 5  # per user: forms handed out whose files are not checked yet
    upload_max_stored: int = 50  # per user: checked uploads not expired (or kept by a song)
    stems_enabled: bool = True
    # The stack's EventBridge bus for song lifecycle events (lambdas/common/lifecycle.py).
    event_bus_name: str = ""
    # Songs the GPU endpoint renders at once when scaled out (max instances x invocations per
    # instance); the queue ETA divides by it.
    gpu_parallelism: int = 1
    # Local development only (the local stack sets it; the deployed stack never does): webhooks
    # may go to http://127.0.0.1. See lambdas/common/url_safety.py.
    webhook_allow_http_loopback: bool = False


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@cache
def get_settings() -> Settings:
    env = os.environ.get
    return Settings(
        stage_name=env("STAGE_NAME", "dev"),
        jobs_table_name=env("JOBS_TABLE_NAME", ""),
        users_table_name=env("USERS_TABLE_NAME", ""),
        idempotency_table_name=env("IDEMPOTENCY_TABLE_NAME", ""),
        media_bucket_name=env("MEDIA_BUCKET_NAME", ""),
        inference_bucket_name=env("INFERENCE_BUCKET_NAME", ""),
        state_machine_arn=env("STATE_MACHINE_ARN", ""),
        endpoint_name=env("ENDPOINT_NAME", ""),
        signup_credits=_int("SIGNUP_CREDITS", 10),
        credits_per_minute=_int("CREDITS_PER_MINUTE", 1),
        max_concurrent_jobs_per_user=_int("MAX_CONCURRENT_JOBS_PER_USER", 1),
        inference_timeout_s=_int("INFERENCE_TIMEOUT_SECONDS", 2700),
        max_execution_s=_int("WORKFLOW_TIMEOUT_SECONDS", 86400),
        uploads_table_name=env("UPLOADS_TABLE_NAME", ""),
        uploads_bucket_name=env("UPLOADS_BUCKET_NAME", ""),
        upload_max_bytes=_int("UPLOAD_MAX_MB", 50) * 1024 * 1024,
        upload_max_duration_s=_int("UPLOAD_MAX_DURATION_SECONDS", 600),
        upload_expiry_days=_int("UPLOAD_EXPIRY_DAYS", 7),
        upload_max_pending=_int("UPLOAD_MAX_PENDING", 5),
        upload_max_stored=_int("UPLOAD_MAX_STORED", 50),
        stems_enabled=env("STEMS_ENABLED", "true").lower() == "true",
        event_bus_name=env("EVENT_BUS_NAME", ""),
        gpu_parallelism=_int("GPU_PARALLELISM", 1),
        webhook_allow_http_loopback=env("WEBHOOK_ALLOW_HTTP_LOOPBACK", "").lower() == "true",
    )


def cors_allow_origins() -> list[str]:
    """Browser origins the API answers with CORS headers (comma-separated; `*` = any).

    Kept apart from `Settings` because the API's resolver reads it once when the module loads.
    """
    raw = os.environ.get("CORS_ALLOW_ORIGINS", "*")
    return [origin.strip() for origin in raw.split(",") if origin.strip()] or ["*"]
