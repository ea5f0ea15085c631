"""Uploaded source tracks (audio-in modes): the row model, the accepted formats, the data access.

Uploads have their own table rather than rows in the jobs table because they live differently:
an upload is not a job (no workflow, no credits, no place in a queue), it expires on its own
(DynamoDB TTL beside the bucket's lifecycle rule) unless a finished song was made from it, and the
upload check Lambda gets access to this table only, never to jobs or users.

Retention: an upload is kept only while a processed song made from it exists (`songs`). Songs in
flight are listed in `active_jobs` (DELETE /uploads refuses then, 409) but do not stop its expiry:
a song canceled or failed leaves it to expire as if it had never been used. When the last song
made from it is deleted, it expires `upload_expiry_days` after it was uploaded again (at once if
that is past): S3's lifecycle rule counts from the object's creation, and the row says the same.

Object keys are `uploads/{user_id}/{upload_id}`: the presigned POST pins exactly that key, so an
object's key names its owner, and the check finds the row from the key alone.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from . import aws, media_keys
from .errors import NotFound
from .models import JobError, SafeText, StrictModel, utc_now, utc_timestamp
from .repositories import from_dynamo, is_conditional_failure, to_dynamo
from .settings import get_settings

UPLOADS_ROOT = "uploads/"
# The uploads table's index by owner (user_id, created_at): the per-user quota counts on it.
UPLOADS_BY_USER_INDEX = "by_user"
UPLOADS_BY_USER_ATTRIBUTES = ("status", "expires_at_epoch")
# Lifecycle: objects carrying this tag expire after `upload_expiry_days`; a processed song made from
# the upload flips the tag to USED_TAG, which no rule matches (stacks/uploads.py), and deleting the
# last such song flips it back.
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

    def tag(self, key: str, value: str) -> None:
        """USED_TAG: the object leaves the lifecycle rule that expires uploads; UNUSED_TAG: back."""
        aws.client("s3").put_object_tagging(
            Bucket=self.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": RETENTION_TAG_KEY, "Value": value}]},
        )


class UploadRepository:
    def __init__(self, table_name: str | None = None) -> None:
        self._table = aws.table(table_name or get_settings().uploads_table_name)

    def create(self, upload: Upload) -> Upload:
        # DynamoDB holds no empty sets: the two reference sets appear with their first member.
        item = upload.model_dump(mode="json", exclude_none=True, exclude={"active_jobs", "songs"})
        self._table.put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(upload_id)")
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

    def start_job(self, upload_id: str, user_id: str, job_id: str) -> None:
        """A song is being made from the upload (DELETE /uploads refuses while it is in flight).
        Only a ready upload of the user: ConditionalCheckFailed otherwise."""
        self._table.update_item(
            Key={"upload_id": upload_id},
            UpdateExpression="ADD active_jobs :job SET updated_at = :now",
            ConditionExpression="user_id = :uid AND #s = :ready",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":job": {job_id},
                ":now": utc_now(),
                ":uid": user_id,
                ":ready": UploadStatus.READY.value,
            },
        )

    def forget_jobs(self, upload_id: str, job_ids: set[str]) -> None:
        """Songs no longer in flight (they ended unprocessed, or never started): off `active_jobs`."""
        self._update_existing(upload_id, "DELETE active_jobs :jobs", {":jobs": job_ids})

    def keep_for_song(self, upload_id: str, job_id: str) -> bool:
        """A processed song was made from the upload: no expiry while it exists. Idempotent;
        False when the upload is gone (deleted by its owner meanwhile)."""
        return self._update_existing(
            upload_id,
            "ADD songs :job DELETE active_jobs :job SET used = :true, updated_at = :now "
            "REMOVE expires_at, expires_at_epoch",
            {":job": {job_id}, ":true": True, ":now": utc_now()},
        )

    def release_song(self, upload_id: str, job_id: str, expiry_days: int) -> bool:
        """The song made from the upload was deleted. With no processed song left, the upload
        expires `expiry_days` after it was made, as S3's rule counts (at once if that is past).
        Returns whether it expires now (False: still kept, or gone)."""
        if not self._update_existing(
            upload_id,
            "DELETE songs :job, active_jobs :job SET updated_at = :now",
            {":job": {job_id}, ":now": utc_now()},
        ):
            return False
        upload = self.find(upload_id)
        if upload is None or upload.songs:
            return False
        expires_at, epoch = expiry(
            datetime.fromisoformat(upload.created_at.replace("Z", "+00:00")), expiry_days
        )
        try:
            self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression="SET used = :false, expires_at = :at, expires_at_epoch = :epoch",
                # A song processed meanwhile keeps it after all.
                ConditionExpression="attribute_exists(upload_id) AND attribute_not_exists(songs)",
                ExpressionAttributeValues={":false": False, ":at": expires_at, ":epoch": epoch},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def delete(self, upload_id: str, user_id: str) -> bool:
        """Delete the row unless a song is (again) in flight from it; False if one is."""
        try:
            self._table.delete_item(
                Key={"upload_id": upload_id},
                ConditionExpression="user_id = :uid AND attribute_not_exists(active_jobs)",
                ExpressionAttributeValues={":uid": user_id},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def live_for_user(self, user_id: str, now_epoch: int) -> list[tuple[UploadStatus, str]]:
        """(status, created_at) of the user's uploads that have not expired (rows TTL has not
        removed yet do not count). Reads only the small index items, page by page."""
        query: dict[str, Any] = {
            "IndexName": UPLOADS_BY_USER_INDEX,
            "KeyConditionExpression": Key("user_id").eq(user_id),
            "FilterExpression": Attr("expires_at_epoch").not_exists()
            | Attr("expires_at_epoch").gt(now_epoch),
            "ProjectionExpression": "#s, created_at",
            "ExpressionAttributeNames": {"#s": "status"},
        }
        found: list[tuple[UploadStatus, str]] = []
        while True:
            page = self._table.query(**query)
            found += [(UploadStatus(i["status"]), str(i["created_at"])) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _update_existing(self, upload_id: str, expression: str, values: dict[str, Any]) -> bool:
        try:
            self._table.update_item(
                Key={"upload_id": upload_id},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(upload_id)",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

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


def sync_retention_tag(uploads: UploadRepository, objects: UploadObjects, upload_id: str) -> None:
    """Make the object's retention tag say what the row says: USED_TAG while a processed song
    keeps the upload, UNUSED_TAG otherwise. Every writer of `songs` calls this after its own row
    change, and re-reads after each tag it writes until the two agree, so with writers racing
    the last tag written is the last row state's."""
    written = None
    for _ in range(4):
        upload = uploads.find(upload_id)
        if upload is None:
            return  # deleted: its object goes with it
        wanted = USED_TAG if upload.songs else UNUSED_TAG
        if wanted == written:
            return
        try:
            objects.tag(upload.key, wanted)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return
            raise
        written = wanted
