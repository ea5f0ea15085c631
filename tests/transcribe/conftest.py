"""Fixtures for the transcription image's code (lambda_images/transcribe), run in-process with the
real basic-pitch model: synthesized tracks, moto S3."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

IMAGE_DIR = Path(__file__).resolve().parents[2] / "lambda_images" / "transcribe"
# The image's measuring module, which its Dockerfile copies from the model container's folder.
MEASURING_DIR = IMAGE_DIR.parents[1] / "sagemaker_containers" / "music"
sys.path.insert(0, str(IMAGE_DIR))
sys.path.append(str(MEASURING_DIR))

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


def encode(
    samples: np.ndarray, rate: int, fmt: str = "WAV", channels: int = 1, subtype: str = "PCM_16"
) -> bytes:
    if channels > 1:
        samples = np.stack([samples * (1 - 0.1 * c) for c in range(channels)], axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> str:
    """The bucket of the `s3` fixture (tests/conftest.py), which the function's settings name as its
    song, upload and scratch bucket; the function starts cold."""
    from transcriber import handler

    for variable in ("MEDIA_BUCKET_NAME", "UPLOADS_BUCKET_NAME", "INFERENCE_BUCKET_NAME"):
        monkeypatch.setenv(variable, BUCKET)
    handler.cold_start.reset()
    return BUCKET
