"""The S3 buckets: media (published songs), scratch (the inference round trip) and uploads.

Keys are built elsewhere (lambdas/common/media_keys.py, inference.py, uploads.py); here is what is
done with them, each S3 call written once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from .. import aws
from ..contract import RETENTION_TAG_KEY, UNUSED_TAG
from ..inference import request_key, scratch_media_prefix
from ..observability import logger
from .dynamo import error_code

DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per call
MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class ObjectsNotDeleted(RuntimeError):
    """S3 refused to delete some of the objects (DeleteObjects' per-key errors)."""


class Bucket:
    def __init__(self, name: str) -> None:
        self.name = name

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = aws.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            yield from (obj["Key"] for obj in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return aws.client("s3").get_object(Bucket=self.name, Key=key)["Body"].read()

    def download(self, key: str, path: str) -> None:
        aws.client("s3").download_file(self.name, key, path)

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, or None when there is no such object."""
        try:
            return aws.client("s3").head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if error_code(exc) in MISSING:
                return None
            raise

    def delete(self, key: str) -> None:
        aws.client("s3").delete_object(Bucket=self.name, Key=key)

    def delete_keys(self, keys: Iterable[str]) -> int:
        """Delete the objects; returns how many. Raises ObjectsNotDeleted when S3 refuses some."""
        s3, deleted, errors = aws.client("s3"), 0, []
        for batch in _batches(keys, DELETE_BATCH):
            response = s3.delete_objects(
                Bucket=self.name, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            errors += response.get("Errors", [])
            deleted += len(batch)
        if errors:
            raise ObjectsNotDeleted(
                f"could not delete {len(errors)} objects of {self.name}: "
                + ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in errors[:5])
            )
        return deleted

    def delete_prefix(self, prefix: str) -> int:
        """Delete every current object under `prefix`; returns how many."""
        return self.delete_keys(self.keys(prefix))


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class MediaBucket(Bucket):
    """Published songs: `songs/{user_id}/{job_id}/...`. Versioned: deletes leave noncurrent versions
    that the bucket's lifecycle purges after 30 days (the undo window in stacks/storage.py)."""

    def __init__(self, name: str, url_ttl_s: int = 3600) -> None:
        super().__init__(name)
        self.url_ttl_s = url_ttl_s

    def put(self, key: str, body: bytes, content_type: str) -> None:
        aws.client("s3").put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)

    def presign(self, key: str) -> str:
        # Presigning is local signing, no network call; the URL carries its own expiry.
        return aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": self.name, "Key": key}, ExpiresIn=self.url_ttl_s
        )

    def copy_in(self, source: Bucket, source_key: str, key: str, content_type: str) -> None:
        """Copy an object of `source` here. A retry after the source was removed finds the copy
        already made (the first attempt landed) and does nothing."""
        try:
            aws.client("s3").copy_object(
                Bucket=self.name,
                Key=key,
                CopySource={"Bucket": source.name, "Key": source_key},
                ContentType=content_type,
                MetadataDirective="REPLACE",
            )
        except ClientError as exc:
            if error_code(exc) in MISSING and self._exists(key):
                logger.info("already published", extra={"key": key})
                return
            raise

    def _exists(self, key: str) -> bool:
        try:
            return self.head(key) is not None
        except ClientError:
            return False


class ScratchBucket(Bucket):
    """The inference round trip: the request, the container's media, SageMaker's output. Reproducible
    and short-lived (expired by the bucket's lifecycle rule), so a failed delete only warns."""

    def put_request(self, job_id: str, request: dict[str, Any]) -> str:
        """Write the container's request; returns its s3:// location."""
        key = request_key(job_id)
        aws.client("s3").put_object(
            Bucket=self.name, Key=key, Body=json.dumps(request).encode(), ContentType="application/json"
        )
        return self.location(job_id)

    def location(self, job_id: str) -> str:
        return f"s3://{self.name}/{request_key(job_id)}"

    def delete_keys(self, keys: Iterable[str]) -> int:
        try:
            return super().delete_keys(keys)
        except ObjectsNotDeleted as exc:
            logger.warning("scratch objects not deleted", extra={"detail": str(exc)})
            return 0

    def delete_job_media(self, job_id: str) -> int:
        """Remove the job's media from the scratch prefix (e.g. a GPU result that came late)."""
        return self.delete_prefix(scratch_media_prefix(job_id))


class UploadsBucket(Bucket):
    """Source tracks, written by browsers with a presigned POST form: `uploads/{user_id}/{upload_id}`."""

    def presigned_post(self, key: str, content_type: str, size_bytes: int, ttl_s: int) -> dict[str, Any]:
        """A browser form for exactly this object: key, type, size and tag are pinned in the policy.

        boto3 adds the `bucket` and `key` conditions itself; every other form field must match a
        condition or S3 refuses the POST (403), so the client cannot change any of them.
        """
        fields = {"Content-Type": content_type, "tagging": tagging(UNUSED_TAG)}
        conditions: list[Any] = [
            {"Content-Type": content_type},
            {"tagging": tagging(UNUSED_TAG)},
            ["content-length-range", size_bytes, size_bytes],
        ]
        return aws.client("s3").generate_presigned_post(
            Bucket=self.name, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=ttl_s
        )

    def tag(self, key: str, value: str) -> bool:
        """Set the retention tag (USED_TAG: the object leaves the lifecycle rule that expires
        uploads; UNUSED_TAG: back on it). False when the object is gone."""
        try:
            aws.client("s3").put_object_tagging(
                Bucket=self.name, Key=key, Tagging={"TagSet": [{"Key": RETENTION_TAG_KEY, "Value": value}]}
            )
        except ClientError as exc:
            if error_code(exc) in MISSING:
                return False
            raise
        return True


def tagging(value: str) -> str:
    """The object tag set as S3's POST `tagging` form field spells it."""
    return (
        f"<Tagging><TagSet><Tag><Key>{RETENTION_TAG_KEY}</Key><Value>{value}</Value></Tag></TagSet></Tagging>"
    )
