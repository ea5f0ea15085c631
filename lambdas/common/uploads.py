"""Uploaded source tracks (audio-in modes): the row model, the accepted formats, the data access.

Uploads have their own table rather than rows in the jobs table because they live differently:
an upload is not a job (no workflow, no credits, no place in a queue), it expires on its own
(DynamoDB TTL beside the bucket's lifecycle rule) unless a song uses it, and the upload check
Lambda gets access to this table only, never to jobs or users.

Object keys are `uploads/{user_id}/{upload_id}`: the presigned POST pins exactly that key, so an
object's key names its owner, and the check finds the row from the key alone.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from . import aws, media_keys
from .errors import NotFound
from .models import JobError, SafeText, StrictModel, utc_now, utc_timestamp
from .repositories import from_dynamo, is_conditional_failure, to_dynamo
from .settings import get_settings

UPLOADS_ROOT = "uploads/"
# Lifecycle: objects carrying this tag expire after `upload_expiry_days`; using an upload in a
# song flips the tag to USED_TAG, which no rule matches (stacks/uploads.py).
RETENTION_TAG_KEY = "retention"
UNUSED_TAG = "unused"
USED_TAG = "used"

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


def _declare_size_limit(schema: dict[str, Any]) -> None:
    """The OpenAPI document states the limit the API enforces (UploadService.create); it is read
    when the document is built, not at import."""
    schema["maximum"] = get_settings().upload_max_bytes


class UploadRequest(StrictModel):
    """`POST /uploads`: what the browser is about to send. The size limit is a setting, checked by
    the API (422 with the field); the POST policy then holds the client to this exact size and type."""

    filename: SafeText = Field(min_length=1, max_length=255, description="Shown back; not part of the key")
    content_type: ContentType = Field(description="The file's type; the upload check holds the file to it")
    size_bytes: int = Field(
        ge=1,
        description="The file's exact size; the upload URL accepts only this size. At most `upload_max_mb` "
        "MB (a deployment setting; the document a deployment serves at GET /docs states its own)",
        json_schema_extra=_declare_size_limit,
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
    expires_at: str | None = None  # when an unused upload is deleted; None once a song used it
    expires_at_epoch: int | None = None  # the same instant, as DynamoDB TTL wants it
    used: bool = False
    format: SourceFormat | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    etag: str | None = None  # of the object the check measured
    error: JobError | None = None

    @property
    def declared_format(self) -> SourceFormat:
        return CONTENT_TYPES[self.content_type]


def object_key(user_id: str, upload_id: str) -> str:
    """`uploads/{user_id}/{upload_id}`; both ids are checked before they become part of a key."""
    if not media_keys.is_valid_user_id(user_id) or not media_keys.is_valid_job_id(upload_id):
        raise ValueError("user_id or upload_id is not safe for an S3 key")
    return f"{UPLOADS_ROOT}{user_id}/{upload_id}"


def parse_object_key(key: str) -> tuple[str, str] | None:
    """(user_id, upload_id) of a key written by `object_key`, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != UPLOADS_ROOT:
        return None
    user_id, upload_id = parts[1], parts[2]
    if not media_keys.is_valid_user_id(user_id) or not media_keys.is_valid_job_id(upload_id):
        return None
    return user_id, upload_id


def new_upload(
    user_id: str, upload_id: str, filename: str, content_type: str, size_bytes: int, expiry_days: int
) -> Upload:
    now = datetime.now(UTC)
    expires = now + timedelta(days=expiry_days)
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
        expires_at=utc_timestamp(expires),
        expires_at_epoch=calendar.timegm(expires.utctimetuple()),
    )


def tagging(value: str) -> str:
    """The object tag set as S3's POST `tagging` form field and PutObjectTagging spell it."""
    return (
        f"<Tagging><TagSet><Tag><Key>{RETENTION_TAG_KEY}</Key><Value>{value}</Value></Tag></TagSet></Tagging>"
    )


class UploadObjects:
    """The uploads bucket: presigned POST forms, reads for the check, tags, deletes."""

    def __init__(self, bucket: str | None = None) -> None:
        self.bucket = bucket or get_settings().uploads_bucket_name

    def presigned_post(self, upload: Upload, ttl_s: int) -> dict[str, Any]:
        """A browser form for exactly this object: key, type, size and tag are pinned in the policy.

        boto3 adds the `bucket` and `key` conditions itself; every other form field must match a
        condition or S3 refuses the POST (403), so the client cannot change any of them.
        """
        fields = {"Content-Type": upload.content_type, "tagging": tagging(UNUSED_TAG)}
        conditions: list[Any] = [
            {"Content-Type": upload.content_type},
            {"tagging": tagging(UNUSED_TAG)},
            ["content-length-range", upload.size_bytes, upload.size_bytes],
        ]
        return aws.client("s3").generate_presigned_post(
            Bucket=self.bucket, Key=upload.key, Fields=fields, Conditions=conditions, ExpiresIn=ttl_s
        )

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return aws.client("s3").head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def download(self, key: str, path: str) -> None:
        aws.client("s3").download_file(self.bucket, key, path)

    def delete(self, key: str) -> None:
        aws.client("s3").delete_object(Bucket=self.bucket, Key=key)

    def keep(self, key: str) -> None:
        """The object leaves the lifecycle rule that expires unused uploads."""
        aws.client("s3").put_object_tagging(
            Bucket=self.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": RETENTION_TAG_KEY, "Value": USED_TAG}]},
        )


class UploadRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or get_settings().uploads_table_name)

    def create(self, upload: Upload) -> Upload:
        self._table.put_item(
            Item=to_dynamo(upload.model_dump(mode="json", exclude_none=True)),
            ConditionExpression="attribute_not_exists(upload_id)",
        )
        return upload

    def find(self, upload_id: str) -> Upload | None:
        item = self._table.get_item(Key={"upload_id": upload_id}, ConsistentRead=True).get("Item")
        return Upload.model_validate(from_dynamo(item)) if item else None

    def get_for_user(self, upload_id: str, user_id: str) -> Upload:
        """Another user's upload is indistinguishable from a missing one."""
        upload = self.find(upload_id)
        if upload is None or upload.user_id != user_id:
            raise NotFound("upload not found")
        return upload

    def mark_ready(
        self, upload_id: str, *, fmt: str, duration_s: float, sample_rate: int, channels: int, etag: str
    ) -> bool:
        """pending -> ready with the measurements; False when it was no longer pending."""
        values = {
            "format": fmt,
            "duration_s": duration_s,
            "sample_rate": sample_rate,
            "channels": channels,
            "etag": etag,
        }
        return self._finish(upload_id, UploadStatus.READY, values)

    def mark_rejected(self, upload_id: str, code: str, message: str) -> bool:
        """pending -> rejected with a reason; False when it was no longer pending."""
        return self._finish(upload_id, UploadStatus.REJECTED, {"error": {"code": code, "message": message}})

    def reject_replaced(self, upload_id: str, checked_etag: str) -> bool:
        """ready -> rejected when the checked object was overwritten; False if already handled."""
        message = "the file was replaced after it was checked; upload it again with a new form"
        return self._finish(
            upload_id,
            UploadStatus.REJECTED,
            {"error": {"code": "Replaced", "message": message}},
            required=UploadStatus.READY,
            extra_condition=("etag", checked_etag),
        )

    def mark_used(self, upload_id: str, user_id: str) -> None:
        """A song uses the upload: keep it (no expiry). Idempotent; only a ready upload of the user."""
        self._table.update_item(
            Key={"upload_id": upload_id},
            UpdateExpression="SET used = :true, updated_at = :now REMOVE expires_at, expires_at_epoch",
            ConditionExpression="user_id = :uid AND #s = :ready",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":true": True,
                ":now": utc_now(),
                ":uid": user_id,
                ":ready": UploadStatus.READY.value,
            },
        )

    def _finish(
        self,
        upload_id: str,
        status: UploadStatus,
        values: dict[str, Any],
        required: UploadStatus = UploadStatus.PENDING,
        extra_condition: tuple[str, str] | None = None,
    ) -> bool:
        """SET status and `values` if the row is in status `required` (and the extra equality holds)."""
        names = {f"#a{i}": name for i, name in enumerate(values)} | {"#s": "status"}
        sets = ", ".join(f"#a{i} = :v{i}" for i in range(len(values)))
        attr_values = {f":v{i}": v for i, v in enumerate(to_dynamo(list(values.values())))}
        condition = "attribute_exists(upload_id) AND #s = :required"
        if extra_condition is not None:
            names["#c"] = extra_condition[0]
            attr_values[":c"] = extra_condition[1]
            condition += " AND #c = :c"
        try:
            self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression=f"SET #s = :status, updated_at = :now, {sets}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":status": status.value,
                    ":now": utc_now(),
                    ":required": required.value,
                    **attr_values,
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
