"""An input track -> float32 samples at a chosen rate (mono at basic-pitch's rate for the
transcriber; the track's own channels at 48 kHz for the upload analyzer), in bounded memory.

Decoding is libsndfile (soundfile: WAV, MP3, FLAC, Ogg), resampling is libsoxr, both block by block,
as the model container does with sources (sagemaker_containers/music/song_model/source_audio.py).
The limits are the upload check's (lambdas/upload_check/check.py; a test keeps them equal): a
track outside them is refused before it is decoded, and decoding stops once a track runs past the
length limit, so memory stays the output array plus a few blocks whatever the file claims.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioRejected

ACCEPTED = "WAV, MP3, FLAC or Ogg audio"
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 2
# The API's longest song and the upload check's default longest upload (upload_max_duration_s).
MAX_DURATION_S = 600.0
_BLOCK_FRAMES = 1 << 16  # ~1.4 s at 48 kHz


def decode_mono(path: Path, rate: int, max_duration_s: float = MAX_DURATION_S) -> np.ndarray:
    """The track at `path` as mono float32 samples at `rate` (channels averaged), or AudioRejected."""
    return decode(path, rate, mono=True, max_duration_s=max_duration_s)


def decode(path: Path, rate: int, *, mono: bool, max_duration_s: float = MAX_DURATION_S) -> np.ndarray:
    """The track at `path` at `rate`: (frames,) when `mono` (channels averaged), else
    (frames, channels) float32; or AudioRejected."""
    try:
        track = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise AudioRejected(f"the track is not audio that can be read; send {ACCEPTED}") from None
    with track:
        _check_shape(track.samplerate, track.channels)
        # The header's length first: a 40-minute file is refused without decoding it.
        if track.frames > 0 and track.frames / track.samplerate > max_duration_s + 1:
            raise _too_long(track.frames / track.samplerate, max_duration_s)
        return _read(track, rate, max_duration_s, mono)


def _read(track: sf.SoundFile, rate: int, max_duration_s: float, mono: bool) -> np.ndarray:
    channels = 1 if mono else track.channels
    stream = (
        soxr.ResampleStream(track.samplerate, rate, channels, dtype="float32", quality="HQ")
        if track.samplerate != rate
        else None
    )
    limit = int((max_duration_s + 1) * track.samplerate)
    blocks: list[np.ndarray] = []
    decoded = 0
    while True:
        try:
            block = track.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError):
            raise AudioRejected(
                f"the audio stops decoding after {decoded / track.samplerate:.1f} s; the file is damaged"
            ) from None
        if not np.isfinite(block).all():  # a float file may hold them; the meters and resampler cannot
            raise AudioRejected(
                f"the audio holds samples that are not numbers (NaN or infinite) after "
                f"{decoded / track.samplerate:.1f} s; the file is damaged"
            )
        decoded += len(block)
        if decoded > limit:
            raise _too_long(decoded / track.samplerate, max_duration_s)
        last = len(block) < _BLOCK_FRAMES
        samples = block.mean(axis=1) if mono else block
        blocks.append(stream.resample_chunk(samples, last=last) if stream else samples)
        if last:
            break
    if decoded == 0:
        raise AudioRejected("the track holds no audio")
    return np.concatenate(blocks)


def _check_shape(sample_rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioRejected(
            f"the track is sampled at {sample_rate} Hz; audio sampled at "
            f"{MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz is accepted"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioRejected(f"the track has {channels} channels; a mono or stereo mix is accepted")


def _too_long(duration_s: float, max_duration_s: float) -> AudioRejected:
    return AudioRejected(
        f"the track is {duration_s:.0f} s long; tracks up to {max_duration_s:.0f} s can be transcribed"
    )
