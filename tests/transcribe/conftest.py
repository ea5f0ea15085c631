"""Fixtures for the transcription image's code (lambda_images/transcribe), run in-process with the
real basic-pitch model: synthesized tracks, moto S3."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

IMAGE_DIR = Path(__file__).resolve().parents[2] / "lambda_images" / "transcribe"
sys.path.insert(0, str(IMAGE_DIR))

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from moto import mock_aws  # noqa: E402

BUCKET = "transcribe-test"


def midi_hz(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def melody(
    notes: list[tuple[float, float, list[int]]], rate: int, seconds: float, harmonics: int = 1
) -> np.ndarray:
    """(start_s, length_s, [pitches]) events -> mono float32: tones with `harmonics` partials
    falling off as 1/k^2 (a soft, organ-like timbre), 10 ms attacks and 50 ms releases; a chord
    when several pitches start together."""
    out = np.zeros(round(seconds * rate))
    for start_s, length_s, pitches in notes:
        t = np.arange(round(length_s * rate)) / rate
        envelope = np.minimum(1.0, np.minimum(t / 0.01, (length_s - t) / 0.05))
        for pitch in pitches:
            tone = sum(np.sin(2 * np.pi * k * midi_hz(pitch) * t) / k**2 for k in range(1, harmonics + 1))
            begin = round(start_s * rate)
            out[begin : begin + len(t)] += 0.25 * envelope * tone
    return out.astype(np.float32)


def encode(samples: np.ndarray, rate: int, fmt: str = "WAV", channels: int = 1) -> bytes:
    if channels > 1:
        samples = np.stack([samples * (1 - 0.1 * c) for c in range(channels)], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def s3() -> Iterator[Any]:
    import boto3

    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client
