"""Rows and media as the workflow leaves them, for the read/delete routes."""

from __future__ import annotations

import boto3

from lambdas.common import media_keys
from lambdas.common.models import Job, JobResult, JobStatus, new_job_id, utc_now
from lambdas.common.repositories import JobRepository


def put_job(user_id: str, status: JobStatus = JobStatus.QUEUED, created_at: str | None = None) -> Job:
    now = created_at or utc_now()
    job = Job(
        job_id=new_job_id(),
        user_id=user_id,
        status=status,
        stage=status.value,
        request={"mode": "description", "description": "a calm lofi song", "formats": ["mp3", "wav"]},
        created_at=now,
        updated_at=now,
    )
    return JobRepository().create(job)


def put_processed_job(user_id: str, media_bucket: str, takes: int = 1) -> Job:
    """A processed job whose audio (mp3 + wav, per take; seeds 42, 43, ...) and cover exist in the
    media bucket."""
    job = put_job(user_id)
    s3 = boto3.client("s3")
    audio = [
        {"format": f, "key": media_keys.audio_key(user_id, job.job_id, f, take=take), "take": take}
        for take in range(1, takes + 1)
        for f in ("mp3", "wav")
    ]
    cover = media_keys.cover_key(user_id, job.job_id)
    for key in [a["key"] for a in audio] + [cover]:
        s3.put_object(Bucket=media_bucket, Key=key, Body=b"media")
    result = JobResult.model_validate(
        {
            "audio": audio,
            "cover_key": cover,
            "lyrics": "[verse]\nnight lights",
            "prompt": "lofi, chill",
            "categories": ["lofi", "chill", "hip hop"],
            "seed": 42,
            "seeds": [42 + k for k in range(takes)],
            "duration_s": 30.0,
        }
    )
    processed = job.model_copy(update={"status": JobStatus.PROCESSED, "stage": "done", "result": result})
    repo = JobRepository()
    repo.delete(job.job_id, user_id)
    return repo.create(processed)
