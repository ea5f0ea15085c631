"""S3 writes with the default boto3 client (AWS_ENDPOINT_URL redirects it to moto locally)."""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .errors import SourceMissing, StorageError, ValidationFailed


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    # A client per call: cheap next to a song, and it picks up the environment (endpoint,
    # credentials) as it is now, which the local stack and tests rely on.
    client = boto3.client("s3")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"could not write s3://{bucket}/{key}: {exc}") from exc


def get_object(bucket: str, key: str, max_bytes: int | None = None, what: str = "the source track") -> bytes:
    """An object's bytes (audio-in sources, persona references). A missing object is the caller's
    problem (404-like); so is one larger than `max_bytes`, refused before its body is read. `what`
    names the object in those messages."""
    client = boto3.client("s3")
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        if max_bytes is not None and response["ContentLength"] > max_bytes:
            response["Body"].close()
            raise ValidationFailed(
                f"{what} s3://{bucket}/{key} holds {response['ContentLength']} bytes; "
                f"at most {max_bytes} are accepted"
            )
        return response["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise SourceMissing(f"{what} s3://{bucket}/{key} no longer exists") from exc
        raise StorageError(f"could not read s3://{bucket}/{key}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"could not read s3://{bucket}/{key}: {exc}") from exc
