"""boto3 clients and resources, created lazily and reused across warm invocations."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 4})
# Presigned S3 URLs must be SigV4 (SigV2 is deprecated and refused in newer regions).
_SERVICE_CONFIG = {"s3": _RETRIES.merge(Config(signature_version="s3v4"))}


# boto3's default session does not create clients safely from several threads at once (the local
# stack runs some handlers concurrently, as Lambda runs several environments); the clients
# themselves are thread-safe once made.
_creating = threading.Lock()


@cache
def client(service: str, config: Config | None = None) -> Any:
    """The service's client; `config` (a module-level constant: it is part of the cache key) for a
    call that needs its own timeouts or retries."""
    with _creating:
        return boto3.client(service, config=config or _SERVICE_CONFIG.get(service, _RETRIES))


@cache
def table(name: str) -> Any:
    with _creating:
        return boto3.resource("dynamodb", config=_RETRIES).Table(name)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    table.cache_clear()
