"""Uploads against moto: real audio files made with soundfile, S3 notifications as AWS sends them."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.unit.api.conftest import ApiClient, api, state_machine_arn  # noqa: F401 - fixtures

SR = 48_000


def audio_bytes(fmt: str, seconds: float = 2.0, sample_rate: int = SR, channels: int = 2) -> bytes:
    """A real encoded file: a quiet sine in `fmt` (wav, flac, ogg, mp3)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.2 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1).astype(np.float32)
    buffer = io.BytesIO()
    container = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}[fmt]
    sf.write(buffer, data, sample_rate, format=container)
    return buffer.getvalue()


def s3_event(key: str, etag: str | None = "etag-1", event: str = "ObjectCreated:Post") -> str:
    """The body S3 puts on the queue for one object (keys URL-encoded, as S3 sends them)."""
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": 1}
    if etag is not None:
        obj["eTag"] = etag
    return json.dumps(
        {"Records": [{"eventName": event, "s3": {"bucket": {"name": "uploads"}, "object": obj}}]}
    )


@pytest.fixture
def upload_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small limits so a short file can be 'too long'."""
    from lambdas.common import runtime

    monkeypatch.setenv("UPLOAD_MAX_DURATION_SECONDS", "3")
    runtime.reset_all()
