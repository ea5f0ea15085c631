"""Publish a generated song: copy the manifest's media into the media bucket, drop the scratch."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from lambdas.common import aws, media_keys
from lambdas.common.inference import Manifest, request_key, scratch_media_prefix
from lambdas.common.models import AudioFile, JobResult
from lambdas.common.observability import logger
from lambdas.common.repositories import JobRepository
from lambdas.common.settings import get_settings

from .errors import InvalidManifest, JobNotRunnable


def publish(job_id: str, user_id: str, manifest_data: dict[str, Any]) -> dict[str, Any]:
    """Returns `result`: the JobResult (JSON) that ChargeAndComplete stores with the charge."""
    manifest = _validated(manifest_data, job_id)
    jobs = JobRepository()
    if not jobs.set_stage(job_id, "publishing"):
        # Canceled (or failed) while the GPU worked: its media is never published nor charged.
        raise JobNotRunnable(f"job {job_id} is no longer processing")
    check_complete(manifest, jobs.get(job_id).request)
    media = get_settings().media_bucket_name

    audio: list[AudioFile] = []
    copies: list[tuple[str, str, str]] = []  # (source key, destination key, content type)
    for item in manifest.audio:
        destination = media_keys.audio_key(user_id, job_id, item.format, item.track, item.take)
        copies.append((item.key, destination, item.content_type))
        audio.append(AudioFile(format=item.format, key=destination, track=item.track, take=item.take))
    cover = None
    if manifest.cover:
        cover = media_keys.cover_key(user_id, job_id)
        copies.append((manifest.cover.key, cover, manifest.cover.content_type))

    source_bucket = get_settings().inference_bucket_name
    for source, destination, content_type in copies:
        _copy(source_bucket, source, media, destination, content_type)
    _delete(source_bucket, [source for source, _, _ in copies] + [request_key(job_id)])

    result = JobResult(
        audio=audio,
        cover_key=cover,
        lyrics=manifest.lyrics,
        prompt=manifest.prompt,
        categories=manifest.categories,
        seed=manifest.seed,
        seeds=manifest.take_seeds,
        duration_s=manifest.duration_s,
        sample_rate=manifest.sample_rate,
        timings=manifest.timings.model_dump(),
    )
    return {"result": result.model_dump(mode="json", exclude_none=True)}


# The container cuts every render to the ordered length (to the sample); half a second allows for
# rounding and nothing more: a result that is short by more is not what was paid for.
DURATION_TOLERANCE_S = 0.5


def check_complete(manifest: Manifest, request: dict[str, Any]) -> None:
    """The result holds exactly what was ordered, or the job fails uncharged (InvalidManifest).

    Every file ordered is paid for: each take (`variants`) in each format, or for stems each ordered
    track in each format (and no mixed track); a song from text has no stem tracks; and the audio
    is as long as ordered. A faulty container (an image older than a feature, a render that
    stopped early) must never be published and charged in full.
    """
    takes = int(request.get("variants") or 1)
    if len(manifest.take_seeds) != takes:
        raise InvalidManifest(f"the manifest holds {len(manifest.take_seeds)} takes, {takes} were ordered")
    formats = list(request.get("formats") or ["wav"])
    tracks: list[str | None] = list(request.get("tracks") or []) if request.get("mode") == "stems" else []
    ordered = {
        (take, track, fmt) for take in range(1, takes + 1) for track in (tracks or [None]) for fmt in formats
    }
    delivered = {(a.take, a.track, a.format) for a in manifest.audio}
    if missing := ordered - delivered:
        raise InvalidManifest(f"the manifest lacks {len(missing)} ordered files: {_files(missing)}")
    if extra := delivered - ordered:
        raise InvalidManifest(f"the manifest holds {len(extra)} files not ordered: {_files(extra)}")
    length = float(request.get("duration_s") or 0)
    if abs(manifest.duration_s - length) > DURATION_TOLERANCE_S:
        raise InvalidManifest(f"the audio is {manifest.duration_s:.3f} s long, {length:.3f} s were ordered")


def _files(files: set[tuple[int, str | None, str]]) -> str:
    shown = sorted(files, key=lambda f: (f[0], f[1] or "", f[2]))[:6]
    return ", ".join(f"take {take} {track or 'mix'} {fmt}" for take, track, fmt in shown)


def _validated(data: dict[str, Any], job_id: str) -> Manifest:
    """Only this job's scratch objects in the inference bucket may be published."""
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise InvalidManifest(f"the manifest is not valid: {exc.error_count()} errors") from None
    bucket = get_settings().inference_bucket_name
    prefix = scratch_media_prefix(job_id)
    objects = [(a.bucket, a.key) for a in manifest.audio]
    if manifest.cover:
        objects.append((manifest.cover.bucket, manifest.cover.key))
    for obj_bucket, key in objects:
        if obj_bucket != bucket or not key.startswith(prefix) or ".." in key:
            raise InvalidManifest(f"s3://{obj_bucket}/{key} is outside the job's scratch prefix")
    files = [(a.take, a.track, a.format) for a in manifest.audio]  # one per take, track and format
    takes = {a.take for a in manifest.audio}
    seeds = manifest.take_seeds
    if manifest.job_id != job_id or len(set(files)) != len(files):
        raise InvalidManifest("the manifest does not match the job")
    if takes != set(range(1, len(seeds) + 1)) or seeds[0] != manifest.seed:
        raise InvalidManifest("the manifest's takes do not match its seeds")
    return manifest


def _copy(source_bucket: str, source_key: str, bucket: str, key: str, content_type: str) -> None:
    s3 = aws.client("s3")
    try:
        s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            ContentType=content_type,
            MetadataDirective="REPLACE",
        )
    except ClientError as exc:
        # A retry after the scratch was already removed: the copy landed the first time.
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404") and _exists(bucket, key):
            logger.info("already published", extra={"key": key})
            return
        raise


def _exists(bucket: str, key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def _delete(bucket: str, keys: list[str]) -> None:
    response = aws.client("s3").delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
    )
    for error in response.get("Errors", []):
        # Scratch expires with the bucket's lifecycle rule anyway; not worth failing a paid song.
        logger.warning(
            "scratch object not deleted", extra={"key": error.get("Key"), "code": error.get("Code")}
        )


def delete_job_media(user_id: str, job_id: str) -> int:
    """Remove whatever a failed job left: published copies and scratch. Returns objects deleted."""
    published = _delete_prefix(get_settings().media_bucket_name, media_keys.job_prefix(user_id, job_id))
    return published + delete_scratch(job_id)


def delete_scratch(job_id: str) -> int:
    """Remove the job's scratch media in the inference bucket (e.g. a GPU result that came late)."""
    return _delete_prefix(get_settings().inference_bucket_name, scratch_media_prefix(job_id))


def _delete_prefix(bucket: str, prefix: str) -> int:
    keys = _list_keys(bucket, prefix)
    if keys:
        _delete(bucket, keys)
    return len(keys)


def _list_keys(bucket: str, prefix: str) -> list[str]:
    paginator = aws.client("s3").get_paginator("list_objects_v2")
    return [
        obj["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
