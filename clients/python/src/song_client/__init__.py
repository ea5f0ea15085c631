"""Python client for the song generation service's REST API, and the `songs` command line.

from song_client import Client

with Client() as client:  # SONG_API_URL / SONG_API_KEY
    song = client.generate(mode="description", description="a calm lofi song", duration_s=30)
    client.download(song, "out/")
"""

from __future__ import annotations

from ._http import RetryPolicy
from ._version import __version__
from .client import Client, Progress, SongRequest, media_files
from .errors import (
    ApiConnectionError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DownloadError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SongClientError,
    SongNotReadyError,
    UploadError,
    UploadRejectedError,
    WaitTimeoutError,
)
from .webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AuthenticationError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DownloadError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "SongClientError",
    "SongNotReadyError",
    "SongRequest",
    "UploadError",
    "UploadRejectedError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "media_files",
    "verify_webhook",
]
