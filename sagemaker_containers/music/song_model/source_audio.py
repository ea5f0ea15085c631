"""Source tracks of the audio-in modes: read from S3, decode, make 48 kHz stereo, fit the canvas;
and the splice that keeps a repaint's outside samples exactly the source's.

Decoding is libsndfile (soundfile, already in the image: WAV, MP3, FLAC, Ogg). Resampling is a
Kaiser-windowed sinc filter applied per output phase with torch's conv1d, the method torchaudio's
`resample` uses (torchaudio has no CPU wheel for the pinned torch, and the image does not need it
for anything else). ACE-Step's VAE works at 48 kHz stereo only.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
import soundfile as sf
import torch

from .errors import ValidationFailed

SAMPLE_RATE = 48_000
# Crossfade at the inside edges of a repainted window: long enough to hide the seam between the
# source and the decoded new audio, short enough to be inaudible as a fade.
SPLICE_FADE_S = 0.02


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """(samples [frames, channels] float32, sample rate) of an encoded file."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValidationFailed(f"the source track could not be decoded: {exc}") from None
    if samples.shape[0] == 0:
        raise ValidationFailed("the source track holds no audio")
    return samples, int(rate)


def to_stereo(samples: np.ndarray) -> np.ndarray:
    """[frames, channels] -> [2, frames]: mono is duplicated; more than two channels are folded
    down (odd channels to the left, even to the right) rather than dropped."""
    channels = samples.shape[1]
    if channels == 1:
        return np.repeat(samples.T, 2, axis=0)
    if channels == 2:
        return np.ascontiguousarray(samples.T)
    left = samples[:, 0::2].mean(axis=1)
    right = samples[:, 1::2].mean(axis=1)
    return np.stack([left, right])


def resample(audio: torch.Tensor, source_rate: int, target_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Band-limited resampling of [channels, frames]; the output has ceil(frames * ratio) frames.

    The ratio is reduced to orig/new (44100 -> 48000 is 147/160); each of the `new` output phases
    has its own windowed-sinc kernel, cut off at the lower Nyquist frequency (x0.99 roll-off).
    """
    if source_rate == target_rate:
        return audio
    ratio = Fraction(target_rate, source_rate)
    orig, new = ratio.denominator, ratio.numerator
    kernels, width = _sinc_kernels(orig, new)
    kernels = kernels.to(torch.float32)  # built in float64, applied in float32: ~4x faster, error < 1e-4
    frames = audio.shape[-1]
    waveform = audio.reshape(-1, 1, frames).to(torch.float32)
    padded = torch.nn.functional.pad(waveform, (width, width + orig))
    out = torch.nn.functional.conv1d(padded, kernels, stride=orig)  # [batch, new, steps]
    out = out.transpose(1, 2).reshape(waveform.shape[0], -1)
    target_frames = math.ceil(frames * new / orig)
    return out[:, :target_frames].reshape(*audio.shape[:-1], target_frames).to(audio.dtype)


def _sinc_kernels(
    orig: int, new: int, zeros: int = 16, beta: float = 14.769656459379492
) -> tuple[torch.Tensor, int]:
    base = min(orig, new) * 0.99
    width = math.ceil(zeros * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float64)[:, None, None] / new + idx
    t = (t * base).clamp(-zeros, zeros)
    window = torch.i0(beta * torch.sqrt(1 - (t / zeros) ** 2)) / torch.i0(
        torch.tensor(beta, dtype=torch.float64)
    )
    t = t * math.pi
    kernels = torch.where(t == 0, torch.tensor(1.0, dtype=torch.float64), t.sin() / t) * window * base / orig
    return kernels, width


def fit(audio: torch.Tensor, frames: int) -> torch.Tensor:
    """Trim or zero-pad [channels, n] to exactly `frames` (the canvas the model renders)."""
    have = audio.shape[-1]
    if have >= frames:
        return audio[..., :frames]
    return torch.nn.functional.pad(audio, (0, frames - have))


def prepare(data: bytes, canvas_s: float, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """An encoded source -> [2, canvas frames] float32 at `sample_rate`, zero-padded past its end."""
    samples, rate = decode(data)
    stereo = torch.from_numpy(to_stereo(samples))
    return fit(resample(stereo, rate, sample_rate), round(canvas_s * sample_rate))


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
