"""boto3 clients and resources, created lazily and reused across warm invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 4})
# Presigned S3 URLs must be SigV4 (SigV2 is deprecated and refused in newer regions).
_SERVICE_CONFIG = {"s3": _RETRIES.merge(Config(signature_version="s3v4"))}


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_SERVICE_CONFIG.get(service, _RETRIES))


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_RETRIES).Table(name)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    table.cache_clear()
