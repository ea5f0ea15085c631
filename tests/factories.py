"""One factory per model for the tests, and the stores of the test environment (tests/conftest.py's
`aws_env` sets the tables' and buckets' names in the process environment, as each function's
environment names them)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3

from lambdas.common import api_keys, media_keys
from lambdas.common.clock import new_job_id, utc_timestamp
from lambdas.common.models import Job, JobResult, JobStatus, JobStep, User, queued_job
from lambdas.common.store.api_keys import ApiKey, ApiKeyStore
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.objects import MediaBucket, ScratchBucket, UploadsBucket
from lambdas.common.store.slots import SlotStore
from lambdas.common.store.uploads import UploadStore
from lambdas.common.store.users import UserStore
from lambdas.common.store.webhook_deliveries import WebhookDeliveries

# The step a job of each status is at, as the workflow leaves it.
STEP_OF = {
    JobStatus.QUEUED: JobStep.QUEUED,
    JobStatus.PROCESSING: JobStep.GENERATING,
    JobStatus.PROCESSED: JobStep.COMPLETED,
    JobStatus.FAILED: JobStep.FAILED,
    JobStatus.CANCELED: JobStep.CANCELED,
}
REQUEST = {"mode": "description", "description": "a calm lofi song", "formats": ["mp3", "wav"]}


def new_job(
    user_id: str = "alice",
    status: JobStatus = JobStatus.QUEUED,
    *,
    created_at: str | None = None,
    request: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    **fields: Any,
) -> Job:
    """A job row's model (not stored): `put_job` stores one."""
    body = dict(REQUEST if request is None else request)
    if webhook_url:
        body["webhook_url"] = webhook_url
    when = {"created_at": created_at, "updated_at": created_at} if created_at else {}
    return queued_job(user_id, body, **when, **fields).model_copy(
        update={"status": status, "step": STEP_OF[status]}
    )


def put_job(user_id: str = "alice", status: JobStatus = JobStatus.QUEUED, **kwargs: Any) -> Job:
    """A job row as the workflow leaves it, written without a reservation."""
    return jobs().create(new_job(user_id, status, **kwargs))


def put_processed_job(user_id: str, takes: int = 1, best_take: int = 1) -> Job:
    """A processed job whose audio (mp3 + wav, per take; seeds 42, 43, ...), timed lyrics (per take)
    and cover exist in the media bucket; `best_take` is ranked 1, the others follow in take order."""
    job_id = new_job_id()
    audio = [
        {"format": f, "key": media_keys.audio_key(user_id, job_id, f, take=take), "take": take}
        for take in range(1, takes + 1)
        for f in ("mp3", "wav")
    ]
    cover = media_keys.cover_key(user_id, job_id)
    order = [best_take] + [k for k in range(1, takes + 1) if k != best_take]
    measured = [
        {
            "take": take,
            "rank": order.index(take) + 1,
            "analysis": {"duration_s": 30.0, "loudness_lufs": -14.0, "true_peak_dbtp": -1.2, "bpm": 90.0,
                         "key": "A minor", "key_confidence": 0.6},
            "scores": {"text_audio": 0.3, "lyrics_accuracy": 0.9 - 0.1 * take},
            "lyrics_timing_key": media_keys.lyrics_timing_key(user_id, job_id, take),
        }
        for take in range(1, takes + 1)
    ]  # fmt: skip
    bucket = media()
    for key in [a["key"] for a in audio] + [m["lyrics_timing_key"] for m in measured] + [cover]:
        boto3.client("s3").put_object(Bucket=bucket.name, Key=key, Body=b"media")
    result = new_result(
        audio=audio,
        cover_key=cover,
        lyrics="[verse]\nnight lights",
        prompt="lofi, chill",
        categories=["lofi", "chill", "hip hop"],
        seed=42,
        seeds=[42 + k for k in range(takes)],
        duration_s=30.0,
        takes=measured,
        best_take=best_take,
    )
    return put_job(user_id, JobStatus.PROCESSED, job_id=job_id, result=result)


def new_result(**fields: Any) -> JobResult:
    values: dict[str, Any] = {
        "audio": [{"format": "wav", "key": "songs/u/j/audio.wav"}],
        "prompt": "lofi",
        "seed": 7,
        "duration_s": 10,
    }
    return JobResult.model_validate(values | fields)


def put_user(user_id: str = "alice", credits: int = 5) -> User:
    return users().get_or_create(user_id, credits)


def put_api_key(
    store: ApiKeyStore,
    user_id: str = "alice",
    *,
    created_at: datetime | None = None,
    expires_at: str | None = None,
) -> tuple[ApiKey, str]:
    """A new API key of `user_id` (who must exist), stored, and its secret."""
    fresh = api_keys.new_secret()
    key = ApiKey(
        key_id=fresh.key_id,
        user_id=user_id,
        name="test",
        prefix=fresh.prefix,
        secret_hash=fresh.secret_hash,
        created_at=utc_timestamp(created_at or datetime.now(UTC)),
        expires_at=expires_at,
    )
    return store.create(key, max_per_user=5), fresh.secret


# --- the stores of the test environment -----------------------------------------------------------


def _name(variable: str) -> str:
    return os.environ[variable]


def jobs() -> JobStore:
    return JobStore(_name("JOBS_TABLE_NAME"))


def users() -> UserStore:
    return UserStore(_name("USERS_TABLE_NAME"))


def ledger() -> CreditLedger:
    return CreditLedger(jobs(), users())


def slots() -> SlotStore:
    return SlotStore(_name("USERS_TABLE_NAME"), _name("JOBS_TABLE_NAME"))


def deliveries() -> WebhookDeliveries:
    return WebhookDeliveries(_name("JOBS_TABLE_NAME"))


def uploads() -> UploadStore:
    return UploadStore(_name("UPLOADS_TABLE_NAME"))


def upload_objects() -> UploadsBucket:
    return UploadsBucket(_name("UPLOADS_BUCKET_NAME"))


def media() -> MediaBucket:
    return MediaBucket(_name("MEDIA_BUCKET_NAME"))


def scratch() -> ScratchBucket:
    return ScratchBucket(_name("INFERENCE_BUCKET_NAME"))
