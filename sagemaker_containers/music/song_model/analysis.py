"""What a piece of audio measures: length, loudness, true peak, tempo and key.

Free of torch (numpy, soxr, pyloudnorm, librosa only), so a CPU-only process, such as a
function analysing uploads, can import it without the model stack.

- Loudness: integrated loudness per ITU-R BS.1770-4 / EBU R128 (K-weighting, 400 ms blocks, absolute
  and relative gates) by `pyloudnorm`.
- True peak: ITU-R BS.1770-4 Annex 2: the signal oversampled to at least 192 kHz (4x at 48 kHz) by
  libsoxr's band-limited resampler (the `soxr` wheel, already the container's resampler), streamed
  block by block, and the largest absolute value in dB (dBTP). Catches the inter-sample peaks a
  sample peak meter misses.
- Tempo: librosa's onset strength (spectral flux of a mel spectrogram), its autocorrelation over the
  whole song weighted by librosa's log-normal tempo prior (120 BPM, one octave), the peak refined by
  parabolic interpolation: the global estimate librosa's `feature.tempo` makes, without its
  per-frame tempogram (memory grows with the song) and its whole-lag resolution (2.5 % at 120 BPM).
- Key: constant-Q chroma (`librosa.feature.chroma_cqt`: bins spaced by semitones down to C1, so low
  notes land in the right pitch class, which short-time Fourier chroma at 44.1-48 kHz smears),
  averaged over the song and correlated with the Krumhansl-Kessler key profiles, rotated to all 24
  keys; the best correlation names the key and is its confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Tempo and key are measured on a mono downmix at this rate: the chroma's highest bin (C8, 4.2 kHz)
# and the onset envelope need no more, and it is what librosa's defaults are tuned for.
ANALYSIS_RATE = 22_050
# BS.1770 gates 400 ms blocks: shorter audio has no integrated loudness.
MIN_LOUDNESS_S = 0.4
# Oversampled rate of the true-peak meter (BS.1770-4 Annex 2: 4x at 48 kHz).
TRUE_PEAK_RATE = 192_000
_TRUE_PEAK_BLOCK = 1 << 18  # input frames a step (~5.5 s at 48 kHz)
# Tempo search range: the request schema's BPM range.
BPM_MIN, BPM_MAX = 30.0, 300.0
_ONSET_HOP = 256  # 86 onset frames a second at 22,050 Hz
_PRIOR_BPM, _PRIOR_OCTAVES = 120.0, 1.0  # librosa.feature.tempo's defaults
_CHROMA_HOP = 2048  # a multiple of 2^6, as librosa's 7-octave constant-Q transform requires

# Krumhansl & Kessler (1982), probe-tone ratings of each pitch class in C major / C minor.
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Spellings a musician expects (fewest accidentals); the key pattern of the API accepts them all.
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


@dataclass(frozen=True)
class Analysis:
    duration_s: float
    loudness_lufs: float | None  # None: shorter than 0.4 s, or silence (below BS.1770's -70 LUFS gate)
    true_peak_dbtp: float | None  # None: digital silence
    bpm: float | None  # None: no beat to measure (too short, or no onsets)
    key: str | None  # "A minor", "C major"
    key_confidence: float | None  # correlation of the song's chroma with the key's profile, 0..1


def frames_channels(samples: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) audio as a float (frames, channels) array, without a copy
    when it already is one (float32 stays float32: a 600 s stereo take is 230 MB of it)."""
    data = np.asarray(samples)
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    return data[:, None] if data.ndim == 1 else data


def integrated_loudness(samples: np.ndarray, rate: int) -> float | None:
    """Integrated loudness in LUFS (BS.1770-4), or None when there is none to measure."""
    import pyloudnorm

    data = frames_channels(samples)
    if data.shape[0] < MIN_LOUDNESS_S * rate or data.shape[1] > 5:
        return None
    loudness = float(pyloudnorm.Meter(rate).integrated_loudness(data))
    return loudness if math.isfinite(loudness) else None


def true_peak_envelope(samples: np.ndarray, rate: int, hop: int = 1) -> np.ndarray:
    """For each `hop` input samples, the largest magnitude (over channels) of the signal
    oversampled to TRUE_PEAK_RATE: what a BS.1770 true-peak meter sees there (its maximum is the
    true peak). libsoxr's streaming resampler (high quality; its output is aligned with the input,
    oversampled sample k at input time k / factor) block by block, so memory stays a few blocks
    whatever the length."""
    import soxr

    data = np.ascontiguousarray(frames_channels(samples), dtype=np.float32)
    frames, channels = data.shape
    factor = max(1, math.ceil(TRUE_PEAK_RATE / rate))
    group = hop * factor  # oversampled samples per envelope value
    envelope = np.zeros(math.ceil(frames / hop), dtype=np.float32)
    if frames == 0:
        return envelope
    stream = (
        soxr.ResampleStream(rate, rate * factor, channels, dtype="float32", quality="HQ")
        if factor > 1
        else None
    )
    pending = np.zeros(0, dtype=np.float32)
    filled = 0
    for start in range(0, frames, _TRUE_PEAK_BLOCK):
        block = data[start : start + _TRUE_PEAK_BLOCK]
        last = start + _TRUE_PEAK_BLOCK >= frames
        upsampled = stream.resample_chunk(block, last=last) if stream else block
        magnitude = np.abs(upsampled[:, 0])
        for channel in range(1, channels):  # column by column: numpy's max over a short axis is slow
            np.maximum(magnitude, np.abs(upsampled[:, channel]), out=magnitude)
        pending = np.concatenate([pending, magnitude])
        whole = len(pending) // group if not last else math.ceil(len(pending) / group)
        if last and len(pending) % group:
            pending = np.pad(pending, (0, whole * group - len(pending)))
        take = min(whole, len(envelope) - filled)
        if take > 0:
            grouped = pending[: take * group].reshape(take, group)
            # A max over a short row is slow in numpy; fold the row by halves (or columns) instead.
            envelope[filled : filled + take] = (
                np.maximum.reduce([grouped[:, k] for k in range(group)])
                if group <= 8
                else grouped.max(axis=1)
            )
            filled += take
        pending = pending[take * group :]
    return envelope


def to_db(value: float) -> float | None:
    return 20.0 * math.log10(value) if value > 0 else None


def true_peak_dbtp(samples: np.ndarray, rate: int) -> float | None:
    """The true peak in dBTP, or None for digital silence."""
    if len(samples) == 0:
        return None
    return to_db(float(true_peak_envelope(samples, rate, hop=64).max()))


def analysis_mono(samples: np.ndarray, rate: int, to_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """The mono downmix (float32) at `to_rate`: ANALYSIS_RATE for tempo and key, the scoring
    models' own rates for them (song_model.scoring)."""
    import soxr

    mono = frames_channels(samples).mean(axis=1).astype(np.float32)
    if rate == to_rate:
        return mono
    return soxr.resample(mono, rate, to_rate, quality="HQ")


def estimate_tempo(mono: np.ndarray, sr: int = ANALYSIS_RATE) -> float | None:
    """The song's tempo in BPM (module docstring), or None when it has no onsets to measure."""
    import librosa

    if len(mono) < 2 * sr:
        return None
    onsets = librosa.onset.onset_strength(y=mono, sr=sr, hop_length=_ONSET_HOP)
    onsets = onsets - onsets.mean()
    frame_rate = sr / _ONSET_HOP
    max_lag = min(len(onsets) - 2, math.ceil(frame_rate * 60.0 / BPM_MIN) + 1)
    min_lag = max(1, math.floor(frame_rate * 60.0 / BPM_MAX))
    if max_lag <= min_lag + 2:
        return None
    autocorrelation = librosa.autocorrelate(onsets, max_size=max_lag + 2)
    if autocorrelation[0] <= 0:
        return None  # a flat envelope: nothing happens
    lags = np.arange(len(autocorrelation), dtype=np.float64)
    bpms = 60.0 * frame_rate / np.maximum(lags, 1e-9)
    prior = np.exp(-0.5 * (np.log2(bpms / _PRIOR_BPM) / _PRIOR_OCTAVES) ** 2)
    weighted = np.where((lags >= min_lag) & (lags <= max_lag), autocorrelation * prior, -np.inf)
    best = int(np.argmax(weighted))
    if not math.isfinite(weighted[best]) or autocorrelation[best] <= 0:
        return None
    # Parabolic interpolation of the (unweighted) autocorrelation around its peak: sub-frame lag.
    left, mid, right = autocorrelation[best - 1 : best + 2]
    curvature = left - 2 * mid + right
    shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return 60.0 * frame_rate / (best + float(np.clip(shift, -0.5, 0.5)))


def key_profiles() -> np.ndarray:
    """The 24 key profiles, (24, 12): C major..B major, then C minor..B minor."""
    major = [np.roll(_KK_MAJOR, tonic) for tonic in range(12)]
    minor = [np.roll(_KK_MINOR, tonic) for tonic in range(12)]
    return np.array(major + minor)


def key_name(index: int) -> str:
    """Index into key_profiles() -> "C major" ... "B minor"."""
    tonic, minor = index % 12, index >= 12
    return f"{(_MINOR_NAMES if minor else _MAJOR_NAMES)[tonic]} {'minor' if minor else 'major'}"


def estimate_key(mono: np.ndarray, sr: int = ANALYSIS_RATE) -> tuple[str, float] | None:
    """(key, confidence) from constant-Q chroma and the Krumhansl-Kessler profiles, or None when
    the audio has no pitched content to measure."""
    import librosa

    if len(mono) < sr // 2 or not np.any(mono):
        return None
    # Only the song's average chroma is needed: 10 frames a second are plenty.
    chroma = librosa.feature.chroma_cqt(y=mono, sr=sr, hop_length=_CHROMA_HOP)
    profile = chroma.mean(axis=1)
    if not np.isfinite(profile).all() or np.ptp(profile) <= 1e-6:
        return None
    correlations = np.array([np.corrcoef(profile, key)[0, 1] for key in key_profiles()])
    best = int(np.argmax(correlations))
    return key_name(best), float(np.clip(correlations[best], 0.0, 1.0))


@dataclass(frozen=True)
class Level:
    """How loud the audio is: what mastering changes."""

    loudness_lufs: float | None
    true_peak_dbtp: float | None


@dataclass(frozen=True)
class Musical:
    """Tempo and key: what mastering (a gain, a limiter on peaks) leaves as it is."""

    bpm: float | None
    key: str | None
    key_confidence: float | None


def level(samples: np.ndarray, rate: int) -> Level:
    data = frames_channels(samples)
    return Level(integrated_loudness(data, rate), true_peak_dbtp(data, rate))


def musical(samples: np.ndarray, rate: int) -> Musical:
    mono = analysis_mono(samples, rate)
    key = estimate_key(mono)
    return Musical(estimate_tempo(mono), key[0] if key else None, key[1] if key else None)


def combine(duration_s: float, loudness: Level, music: Musical) -> Analysis:
    """The Analysis of a take, rounded as the manifest reports it."""

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(float(value), digits)

    return Analysis(
        duration_s=round(duration_s, 3),
        loudness_lufs=rounded(loudness.loudness_lufs, 2),
        true_peak_dbtp=rounded(loudness.true_peak_dbtp, 2),
        bpm=rounded(music.bpm, 1),
        key=music.key,
        key_confidence=rounded(music.key_confidence, 3),
    )


def analyze(samples: np.ndarray, rate: int) -> Analysis:
    """Every measurement of one take (or upload): (frames,) or (frames, channels) float audio."""
    data = frames_channels(samples)
    return combine(data.shape[0] / rate, level(data, rate), musical(data, rate))


def warm_up() -> None:
    """Run every measurement once on a short synthetic clip: librosa's numba kernels compile (or
    load from numba's cache) here, at start-up or image build, not in a request."""
    rate = 48_000
    t = np.arange(3 * rate) / rate
    clip = 0.1 * np.sin(2 * np.pi * 440.0 * t) * (1 + (np.floor(t * 4) % 2))
    analyze(np.stack([clip, clip], axis=1), rate)
