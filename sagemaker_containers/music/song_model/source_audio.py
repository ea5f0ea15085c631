"""Source tracks of the audio-in modes: read from S3, decode, make 48 kHz stereo, fit the canvas;
and the splice that keeps a repaint's outside samples exactly the source's.

Decoding is libsndfile (soundfile: WAV, MP3, FLAC, Ogg), resampling is libsoxr (the `soxr` wheel,
the resampler librosa defaults to). Both run block by block into the canvas, so memory is the
encoded file plus the canvas plus a few blocks, whatever the source's rate or length: a polyphase
filter built for the exact ratio needs one filter phase per output sample of the ratio's
numerator, which for a rate that shares no factor with 48,000 (22,051 Hz, 47,999 Hz) is tens of
GB (issue 22). soxr handles any ratio in bounded memory. ACE-Step's VAE works at 48 kHz stereo only.

The upload check (lambdas/upload_check/check.py) accepts only sources within the limits below; they
are checked here again before decoding, since the container must never trust its input.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
import soxr
import torch

from .errors import ValidationFailed

SAMPLE_RATE = 48_000
# What a source may be (the upload check's limits: lambdas/upload_check/check.py, a test keeps
# them equal). 8 kHz is telephone audio; 192 kHz the highest rate studio files use.
MIN_SOURCE_RATE = 8_000
MAX_SOURCE_RATE = 192_000
MAX_SOURCE_CHANNELS = 2
# Frames decoded and resampled at a time: ~1.4 s at 48 kHz.
_BLOCK_FRAMES = 1 << 16
# Crossfade at the inside edges of a repainted window: long enough to hide the seam between the
# source and the decoded new audio, short enough to be inaudible as a fade.
SPLICE_FADE_S = 0.02


def _open(data: bytes, what: str) -> sf.SoundFile:
    try:
        audio = sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValidationFailed(f"{what} could not be decoded: {exc}") from None
    if not MIN_SOURCE_RATE <= audio.samplerate <= MAX_SOURCE_RATE:
        audio.close()
        raise ValidationFailed(
            f"{what} is sampled at {audio.samplerate} Hz; "
            f"{MIN_SOURCE_RATE}..{MAX_SOURCE_RATE} Hz are accepted"
        )
    if not 1 <= audio.channels <= MAX_SOURCE_CHANNELS:
        audio.close()
        raise ValidationFailed(f"{what} has {audio.channels} channels; mono or stereo are accepted")
    return audio


def to_stereo(samples: np.ndarray) -> np.ndarray:
    """[frames, 1 or 2 channels] -> [frames, 2]: mono is duplicated (_open refuses more channels)."""
    return np.repeat(samples, 2, axis=1) if samples.shape[1] == 1 else samples


def resample(audio: torch.Tensor, source_rate: int, target_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Band-limited resampling of [channels, frames] (soxr, high quality); the output has
    round(frames * target / source) frames. Memory stays proportional to the input and output."""
    if source_rate == target_rate:
        return audio
    samples = np.ascontiguousarray(audio.detach().to(torch.float32).reshape(-1, audio.shape[-1]).numpy().T)
    out = soxr.resample(samples, source_rate, target_rate, quality="HQ")
    frames = out.shape[0]
    return torch.from_numpy(np.ascontiguousarray(out.T)).reshape(*audio.shape[:-1], frames).to(audio.dtype)


def fit(audio: torch.Tensor, frames: int) -> torch.Tensor:
    """Trim or zero-pad [channels, n] to exactly `frames` (the canvas the model renders)."""
    have = audio.shape[-1]
    if have >= frames:
        return audio[..., :frames]
    return torch.nn.functional.pad(audio, (0, frames - have))


def prepare(
    data: bytes,
    canvas_s: float,
    sample_rate: int = SAMPLE_RATE,
    *,
    pad: bool = True,
    what: str = "the source track",
) -> torch.Tensor:
    """An encoded source -> [2, canvas frames] float32 at `sample_rate`, zero-padded past its end
    (`pad=False`: cut at its end instead, so a shorter source gives fewer frames; a persona's
    reference clip). `what` names the audio in error messages.

    Decoded and resampled block by block straight into the canvas; reading stops once the canvas
    is full, so a source longer than the canvas costs no more than one that fits.
    """
    frames = round(canvas_s * sample_rate)
    canvas = np.zeros((2, frames), dtype=np.float32)  # the tensor's own layout: returned without a copy
    filled = 0
    with _open(data, what) as audio:
        stream = (
            soxr.ResampleStream(audio.samplerate, sample_rate, 2, dtype="float32", quality="HQ")
            if audio.samplerate != sample_rate
            else None
        )
        decoded = 0
        while filled < frames:
            try:
                block = audio.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise ValidationFailed(f"{what} could not be decoded: {exc}") from None
            decoded += len(block)
            last = len(block) < _BLOCK_FRAMES
            stereo = to_stereo(block)  # [frames, 2], C order: soxr's layout
            out = stream.resample_chunk(stereo, last=last) if stream else stereo
            take = min(len(out), frames - filled)
            canvas[:, filled : filled + take] = out[:take].T
            filled += take
            if last:
                break
    if decoded == 0:
        raise ValidationFailed(f"{what} holds no audio")
    return torch.from_numpy(canvas if pad else canvas[:, :filled])


def splice(generated: torch.Tensor, source: torch.Tensor, start: int, end: int, fade: int) -> torch.Tensor:
    """The source outside [start, end), the generated audio inside it, with `fade`-sample crossfades
    just inside each edge. Samples outside the window are the source's, bit for bit.

    ACE-Step's repaint regenerates latents only inside the window, but the VAE decodes the whole
    latent, so outside the window its output is close to the source, not equal to it.
    """
    if generated.shape != source.shape:
        raise ValueError(f"shapes differ: {tuple(generated.shape)} vs {tuple(source.shape)}")
    out = source.clone()
    out[..., start:end] = generated[..., start:end]
    fade = max(0, min(fade, (end - start) // 2))
    if fade:
        ramp = torch.linspace(0.0, 1.0, fade + 2, dtype=source.dtype)[1:-1]
        out[..., start : start + fade] = (1 - ramp) * source[..., start : start + fade] + ramp * generated[
            ..., start : start + fade
        ]
        if end < source.shape[-1]:  # a window that runs to the end has no right edge
            out[..., end - fade : end] = (
                ramp * source[..., end - fade : end] + (1 - ramp) * generated[..., end - fade : end]
            )
    return out
