"""boto3 clients and resources, created lazily and reused across warm invocations."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 4})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_RETRIES)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_RETRIES).Table(name)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    table.cache_clear()
