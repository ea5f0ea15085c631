"""Encoding audio to the delivery formats with libsndfile (soundfile).

libsndfile >= 1.1 writes MP3 through LAME/mpg123, so one library covers wav, flac and mp3 with
no ffmpeg in the image.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from .engines import Audio

CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
# 16-bit PCM for wav/flac: CD quality, half the size of float, what players expect.
_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "mp3": "MPEG_LAYER_III"}
_SF_FORMATS = {"wav": "WAV", "flac": "FLAC", "mp3": "MP3"}


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Quantise once, here: libsndfile rounds float input differently per format (WAV vs FLAC
    differed by one step), and the lossless files should carry identical samples."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def encode(audio: Audio, fmt: str) -> bytes:
    data = audio.samples if fmt == "mp3" else to_pcm16(audio.samples)
    buffer = io.BytesIO()
    sf.write(buffer, data, audio.sample_rate, format=_SF_FORMATS[fmt], subtype=_SUBTYPES[fmt])
    return buffer.getvalue()
