"""Uploaded source tracks (audio-in modes): the request and row models, the accepted formats, the
object keys and the expiry. Reads and writes: lambdas/common/store/uploads.py (the table) and
store/objects.py (the bucket).

Uploads have their own table rather than rows in the jobs table because they live differently:
an upload is not a job (no workflow, no credits, no place in a queue), it expires on its own
(DynamoDB TTL beside the bucket's lifecycle rule) unless a finished song was made from it, and the
upload check Lambda gets access to this table only, never to jobs or users.

Object keys are `uploads/{user_id}/{upload_id}`: the presigned POST pins exactly that key, so an
object's key names its owner, and the check finds the row from the key alone.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from . import media_keys
from .clock import utc_timestamp
from .contract import UPLOADS_PREFIX
from .measurements import TakeAnalysis
from .models import JobError
from .request_fields import SafeText, StrictModel

SourceFormat = Literal["wav", "mp3", "flac", "ogg"]
# What a browser may call each accepted format -> the format the check expects to decode.
CONTENT_TYPES: dict[str, SourceFormat] = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
}
ContentType = Literal[
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/mpeg",
    "audio/mp3",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
]


class UploadRequest(StrictModel):
    """`POST /uploads`: what the browser is about to send. The size limit is a setting, checked by
    the API (422 with the field); the POST policy then holds the client to this exact size and type."""

    filename: SafeText = Field(min_length=1, max_length=255, description="Shown back; not part of the key")
    content_type: ContentType = Field(description="The file's type; the upload check holds the file to it")
    size_bytes: int = Field(
        ge=1,
        description="The file's exact size; the upload URL accepts only this size. At most `upload_max_mb` "
        "MB (a deployment setting; the document a deployment serves at GET /docs states its own)",
    )


class UploadStatus(StrEnum):
    PENDING = "pending"  # form handed out; the file has not landed or not been checked yet
    READY = "ready"  # decoded and measured: usable as a source
    REJECTED = "rejected"  # not audio, too long or not what it claimed; the object was deleted


class Upload(BaseModel):
    """One row of the uploads table."""

    upload_id: str
    user_id: str
    status: UploadStatus
    filename: str
    content_type: str
    size_bytes: int
    key: str
    created_at: str
    updated_at: str
    expires_at: str | None = None  # when it is deleted; None while a processed song keeps it
    expires_at_epoch: int | None = None  # the same instant, as DynamoDB TTL wants it
    used: bool = False  # a processed song made from it exists (kept; `songs` says which)
    active_jobs: set[str] = Field(default_factory=set)  # songs in flight made from it
    songs: set[str] = Field(default_factory=set)  # processed songs made from it
    format: SourceFormat | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    etag: str | None = None  # of the object the check measured
    # Loudness, tempo and key (the upload analyzer); None while pending, or when it could not run.
    analysis: TakeAnalysis | None = None
    error: JobError | None = None

    @property
    def declared_format(self) -> SourceFormat:
        return CONTENT_TYPES[self.content_type]


def object_key(user_id: str, upload_id: str) -> str:
    """`uploads/{user_id}/{upload_id}`; both ids are checked before they become part of a key."""
    if not media_keys.is_valid_user_id(user_id) or not media_keys.is_valid_job_id(upload_id):
        raise ValueError("user_id or upload_id is not safe for an S3 key")
    return f"{UPLOADS_PREFIX}{user_id}/{upload_id}"


def parse_object_key(key: str) -> tuple[str, str] | None:
    """(user_id, upload_id) of a key written by `object_key`, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != UPLOADS_PREFIX:
        return None
    user_id, upload_id = parts[1], parts[2]
    if not media_keys.is_valid_user_id(user_id) or not media_keys.is_valid_job_id(upload_id):
        return None
    return user_id, upload_id


def expiry(created_at: datetime, expiry_days: int) -> tuple[str, int]:
    """(expires_at, expires_at_epoch) of an upload made at `created_at`, as S3's rule counts."""
    expires = created_at + timedelta(days=expiry_days)
    return utc_timestamp(expires), calendar.timegm(expires.utctimetuple())


def new_upload(
    user_id: str, upload_id: str, filename: str, content_type: str, size_bytes: int, expiry_days: int
) -> Upload:
    now = datetime.now(UTC)
    expires_at, expires_epoch = expiry(now, expiry_days)
    return Upload(
        upload_id=upload_id,
        user_id=user_id,
        status=UploadStatus.PENDING,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        key=object_key(user_id, upload_id),
        created_at=utc_timestamp(now),
        updated_at=utc_timestamp(now),
        expires_at=expires_at,
        expires_at_epoch=expires_epoch,
    )
