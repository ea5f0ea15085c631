"""boto3 clients and resources, created lazily and reused across warm invocations."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from .contract import UPLOAD_ANALYZER_TIMEOUT_S

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 4})
# Presigned S3 URLs must be SigV4 (SigV2 is deprecated and refused in newer regions).
_SERVICE_CONFIG = {
    "s3": _RETRIES.merge(Config(signature_version="s3v4")),
    # The one synchronous invoke (the upload check -> the upload analyzer) waits as long as the
    # analyzer may run, once: a retry after a read timeout would run it again past the check's own
    # timeout, and the analysis is best-effort (the upload is ready without it).
    "lambda": Config(
        read_timeout=UPLOAD_ANALYZER_TIMEOUT_S + 10, retries={"mode": "standard", "total_max_attempts": 1}
    ),
}


# boto3's default session does not create clients safely from several threads at once (the local
# stack runs some handlers concurrently, as Lambda runs several environments); the clients
# themselves are thread-safe once made.
_creating = threading.Lock()


@cache
def client(service: str) -> Any:
    with _creating:
        return boto3.client(service, config=_SERVICE_CONFIG.get(service, _RETRIES))


@cache
def table(name: str) -> Any:
    with _creating:
        return boto3.resource("dynamodb", config=_RETRIES).Table(name)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    table.cache_clear()
