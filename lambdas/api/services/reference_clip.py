"""Cut a persona's reference clip: at most REFERENCE_WINDOW_S seconds of a source from `start_s`,
as WAV in the source's own rate and channels.

It runs in the API function, at POST /personas, so a 201 means the persona can sing at once (no
pending state to poll). The sources were all decoded end to end before (the upload check, or the
container that wrote the song), with their rate, channels and length bounded; here the decoder
seeks to the window and reads only it, so the work is the download plus 30 s of audio: well within
API Gateway's 29 s. The decoder is libsndfile through `soundfile`, from the upload check's audio
layer (layers/audio), imported on first use so no other route loads it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from lambdas.common.personas import MIN_REFERENCE_S, REFERENCE_WINDOW_S, SILENT_PEAK

# WAV sample formats kept as they are; lossy or other sources are written as 16-bit PCM (their
# decoded precision), float sources as 32-bit float.
_KEPT_SUBTYPES = frozenset({"PCM_16", "PCM_24", "PCM_32", "FLOAT"})


class ClipRefused(Exception):
    """The window holds no usable reference; `message` says why, for the person making the persona."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Clip:
    wav: bytes
    sha256: str  # of `wav`, hex: the container checks the stored clip against it
    duration_s: float
    sample_rate: int
    channels: int


def cut(path: Path, start_s: float) -> Clip:
    """The reference window of the audio file at `path`, or ClipRefused."""
    import numpy as np
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as audio:
            rate, channels, subtype = audio.samplerate, audio.channels, audio.subtype
            first = round(start_s * rate)
            if audio.frames and first >= audio.frames:
                raise _too_short(audio.frames / rate - start_s)
            if first:
                audio.seek(first)
            samples = audio.read(round(REFERENCE_WINDOW_S * rate), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise ClipRefused("the source could not be decoded") from None
    seconds = len(samples) / rate
    if seconds < MIN_REFERENCE_S:
        raise _too_short(seconds)
    # A float file may hold NaN or infinity, which no check before this reads as wrong (NaN is not
    # below the silence threshold): the model would be conditioned on them.
    if not np.isfinite(samples).all():
        raise ClipRefused(f"the {seconds:.1f} s from {start_s:g} s hold samples that are not numbers")
    if float(np.abs(samples).max()) < SILENT_PEAK:
        raise ClipRefused(
            f"the {seconds:.1f} s from {start_s:g} s are silent; choose a start where the voice is"
        )
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=_wav_subtype(subtype))
    wav = buffer.getvalue()
    return Clip(wav, hashlib.sha256(wav).hexdigest(), round(seconds, 3), int(rate), int(channels))


def _wav_subtype(source: str) -> str:
    if source in _KEPT_SUBTYPES:
        return source
    return "FLOAT" if source == "DOUBLE" else "PCM_16"


def _too_short(seconds: float) -> ClipRefused:
    return ClipRefused(
        f"only {max(seconds, 0.0):.2f} s of the source follow start_s; a persona needs at least "
        f"{MIN_REFERENCE_S:g} s (up to {REFERENCE_WINDOW_S:g} s are used)"
    )
