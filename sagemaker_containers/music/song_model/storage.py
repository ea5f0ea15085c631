"""S3 writes with the default boto3 client (AWS_ENDPOINT_URL redirects it to moto locally)."""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .errors import StorageError


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    # A client per call: cheap next to a song, and it picks up the environment (endpoint,
    # credentials) as it is now, which the local stack and tests rely on.
    client = boto3.client("s3")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"could not write s3://{bucket}/{key}: {exc}") from exc
