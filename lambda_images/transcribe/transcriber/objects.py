"""Reading one audio object from S3 into /tmp, with the errors the callers expect (errors.py)."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .errors import AudioRejected, SourceMissing, StorageError

_CHUNK_BYTES = 1 << 20


def download(bucket: str, key: str, folder: Path, *, max_bytes: int, purpose: str) -> Path:
    """The object, streamed to a file in `folder` (soundfile needs a seekable file), or a typed
    error; an object over `max_bytes` is refused unread ("up to N can be {purpose}")."""
    client = boto3.client("s3")
    where = f"s3://{bucket}/{key}"
    path = folder / "source"
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        if response["ContentLength"] > max_bytes:
            response["Body"].close()
            raise AudioRejected(
                f"the track is {response['ContentLength']:,} bytes; up to {max_bytes:,} can be {purpose}"
            )
        with path.open("wb") as file:
            for chunk in response["Body"].iter_chunks(_CHUNK_BYTES):
                file.write(chunk)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise SourceMissing(f"the track {where} no longer exists") from None
        raise StorageError(f"could not read {where}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"could not read {where}: {exc}") from exc
    return path
