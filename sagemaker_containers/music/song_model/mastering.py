"""Loudness normalisation with a true-peak ceiling: every delivered take at one level.

A take is brought to the target integrated loudness (BS.1770, `analysis.integrated_loudness`) by
one gain; where that gain would push the true peak (`analysis.true_peak_envelope`) over the ceiling,
a look-ahead limiter turns the gain down around those peaks only. The limiter works offline on the
whole take, so it can look both ways: its gain curve is the per-sample gain the ceiling allows,
widened by a running minimum and smoothed by a running mean of the same width (twice: a 2 ms
attack stage, then a 50 ms release stage). A mean of values that are each the minimum over a window
containing the sample is never above that sample's allowed gain, so the ceiling holds by
construction, with smooth gain changes (no clicks, no distortion from instant gain jumps). Limiting
lowers the loudness a little, so the gain is raised by the shortfall and the take limited again,
until it measures within 0.1 LU of the target (a few rounds; peaky material needs more). The result
is measured: the true peak of what is delivered is checked against the ceiling, and the ceiling
tightened and the round repeated if interpolation between gain steps overshot it.

Stems keep their relative levels: one gain for the set (the mix of the stems reaches the target),
no limiter (it would change each stem's dynamics differently); if the ceiling binds on any stem or
on their mix, the whole set stays quieter than the target instead.

Everything here is numpy/scipy (torch-free, like song_model.analysis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from .analysis import frames_channels, integrated_loudness, to_db, true_peak_envelope

DEFAULT_LOUDNESS_LUFS = -14.0
DEFAULT_TRUE_PEAK_DBTP = -1.0
LOUDNESS_TOLERANCE_LU = 0.1
_ATTACK_S = 0.002
_RELEASE_S = 0.05
# Aim a little under the ceiling: the gain changes between samples; the result is measured anyway.
_CEILING_MARGIN_DB = 0.05
_MAX_ROUNDS = 12
# The limiter's gain curve is computed per block of this many samples (and interpolated): its
# 2 ms attack is 12 blocks at 48 kHz, and the running filters cost an eighth.
ENVELOPE_HOP = 8
# Never boost by more than this: a near-silent take (a failed render) would only become loud noise.
MAX_GAIN_DB = 40.0


@dataclass(frozen=True)
class Target:
    loudness_lufs: float = DEFAULT_LOUDNESS_LUFS
    true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP


@dataclass(frozen=True)
class Mastered:
    samples: np.ndarray  # float32 (frames, channels)
    gain_db: float  # the static gain applied before the limiter (0 for untouched audio)
    limited_db: float  # the limiter's deepest gain reduction (0: it never acted)
    # What the result measures (the last round's meters), so its analysis need not measure again.
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None


def _db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def _hold_and_smooth(allowed: np.ndarray, width: int) -> np.ndarray:
    """A curve that is never above `allowed` and changes by at most 1/width of a step per sample:
    the running minimum over 2*width - 1 samples, then the running mean over width (odd) samples."""
    width |= 1
    held = minimum_filter1d(allowed, size=2 * width - 1, mode="nearest")
    smoothed = uniform_filter1d(held, size=width, mode="nearest")
    # The running mean is computed by cumulative sums: keep rounding from lifting it over the bound.
    return np.minimum(smoothed, allowed)


def limiter_gain(envelope: np.ndarray, ceiling: float, rate: int, frames: int | None = None) -> np.ndarray:
    """Per-sample gain (<= 1) that keeps the true peak at or under `ceiling`. `envelope` holds the
    true-peak magnitude of each block of ENVELOPE_HOP samples (of `frames` in all): the curve is
    built at that rate and interpolated linearly between block centres, which stays under the
    allowed gain because each block's value is at most the allowed gain of its neighbours too."""
    frames = len(envelope) * ENVELOPE_HOP if frames is None else frames
    allowed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12)).astype(np.float32, copy=False)
    if allowed.min() >= 1.0:
        return np.ones(frames, dtype=np.float32)
    block_rate = rate / ENVELOPE_HOP
    attack = _hold_and_smooth(allowed, max(3, round(_ATTACK_S * block_rate)))
    curve = _hold_and_smooth(attack, max(3, round(_RELEASE_S * block_rate)))
    centres = (np.arange(len(curve)) + 0.5) * ENVELOPE_HOP - 0.5
    return np.interp(np.arange(frames), centres, curve).astype(np.float32)


def master(samples: np.ndarray, rate: int, target: Target) -> Mastered:
    """One take to `target.loudness_lufs` with its true peak at or under `target.true_peak_dbtp`.
    Audio with no measurable loudness (under 0.4 s, or silence) is returned as it is."""
    data = frames_channels(samples).astype(np.float32, copy=False)
    loudness = integrated_loudness(data, rate)
    if loudness is None:
        return Mastered(data, 0.0, 0.0)
    envelope = true_peak_envelope(data, rate, ENVELOPE_HOP)  # of the input: scales with the gain
    ceiling_db = target.true_peak_dbtp - _CEILING_MARGIN_DB
    gain_db = min(target.loudness_lufs - loudness, MAX_GAIN_DB)
    previous: tuple[float, float] | None = None  # (gain, loudness) of the round before
    out, reduction = data, np.ones(1, dtype=np.float32)
    measured, peak = loudness, None
    for _ in range(_MAX_ROUNDS):
        gain = _db_to_gain(gain_db)
        if float(envelope.max()) * gain <= _db_to_gain(ceiling_db):
            # Under the ceiling as it is: one gain, and loudness and true peak move by exactly it.
            out = data * np.float32(gain)
            peak = to_db(float(envelope.max()) * gain)
            return Mastered(out, round(gain_db, 2), 0.0, loudness + gain_db, peak)
        reduction = limiter_gain(envelope * gain, _db_to_gain(ceiling_db), rate, len(data))
        out = data * (gain * reduction)[:, None]
        measured = integrated_loudness(out, rate) or -math.inf
        shortfall = target.loudness_lufs - measured
        if abs(shortfall) > LOUDNESS_TOLERANCE_LU and gain_db < MAX_GAIN_DB:
            # Secant step: the limiter makes loudness grow slower than the gain (slope < 1).
            slope = 1.0
            if previous is not None and gain_db != previous[0]:
                slope = min(1.0, max(0.05, (measured - previous[1]) / (gain_db - previous[0])))
            previous = (gain_db, measured)
            gain_db = min(gain_db + shortfall / slope, MAX_GAIN_DB)
            continue
        # At the target: check the delivered true peak (the gain moves between samples).
        peak = to_db(float(true_peak_envelope(out, rate, ENVELOPE_HOP).max()))
        if peak is None or peak <= target.true_peak_dbtp:
            break
        ceiling_db -= peak - target.true_peak_dbtp + _CEILING_MARGIN_DB
        previous = None
    limited = to_db(float(reduction.min())) or 0.0
    delivered = None if not math.isfinite(measured) else measured
    return Mastered(out.astype(np.float32, copy=False), round(gain_db, 2), round(limited, 2), delivered, peak)


@dataclass(frozen=True)
class StemGain:
    gain_db: float
    # The level of the stems' mix after the gain (a static gain moves both by exactly itself).
    loudness_lufs: float | None
    true_peak_dbtp: float | None


def set_gain(stems: list[np.ndarray], rate: int, target: Target) -> StemGain:
    """The one gain for a set of stems: their mix reaches the target loudness unless the ceiling
    binds on a stem or on the mix first; 0 dB when the set has no measurable loudness."""
    tracks = [frames_channels(stem).astype(np.float32, copy=False) for stem in stems]
    mix = np.sum(tracks, axis=0)
    loudness = integrated_loudness(mix, rate)
    mix_peak = to_db(float(true_peak_envelope(mix, rate, ENVELOPE_HOP).max()))
    if loudness is None:
        return StemGain(0.0, None, mix_peak)
    peak = max(float(true_peak_envelope(track, rate, ENVELOPE_HOP).max()) for track in tracks)
    headroom = target.true_peak_dbtp - (to_db(max(peak, _db_to_gain(mix_peak or -math.inf))) or -math.inf)
    gain_db = round(min(target.loudness_lufs - loudness, headroom, MAX_GAIN_DB), 2)
    return StemGain(gain_db, loudness + gain_db, None if mix_peak is None else mix_peak + gain_db)


def apply_gain(samples: np.ndarray, gain_db: float) -> np.ndarray:
    return (frames_channels(samples) * _db_to_gain(gain_db)).astype(np.float32, copy=False)
