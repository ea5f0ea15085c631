"""Mastering to a loudness target under a true-peak ceiling, measured on the result."""

from __future__ import annotations

import numpy as np
import pytest
from signals import A_MINOR, C_MAJOR, RATE, drums_and_pad, progression, seconds, stereo
from song_model import analysis, mastering

DEFAULT = mastering.Target()


def measured(samples: np.ndarray) -> tuple[float, float]:
    loudness = analysis.integrated_loudness(samples, RATE)
    peak = analysis.true_peak_dbtp(samples, RATE)
    assert loudness is not None and peak is not None
    return loudness, peak


@pytest.mark.parametrize(
    "name",
    ["quiet chords", "peaky drums", "hot and clipped"],
)
def test_takes_reach_minus_14_lufs_under_the_minus_1_dbtp_ceiling(name: str) -> None:
    audio = {
        "quiet chords": stereo(0.2 * progression([A_MINOR, C_MAJOR])),
        "peaky drums": drums_and_pad(),
        "hot and clipped": np.clip(drums_and_pad() * 4, -1.0, 1.0),
    }[name]
    result = mastering.master(audio, RATE, DEFAULT)
    loudness, peak = measured(result.samples)
    assert loudness == pytest.approx(-14.0, abs=0.5)
    assert peak <= -1.0
    assert result.samples.dtype == np.float32 and result.samples.shape == audio.shape


def test_the_limiter_acts_only_where_the_ceiling_needs_it() -> None:
    """Peaky drums need limiting (the kicks); quiet chords only need gain, applied unchanged."""
    drums = mastering.master(drums_and_pad(), RATE, DEFAULT)
    assert drums.limited_db < -6  # the kicks were turned down
    chords = stereo(0.05 * progression([A_MINOR, C_MAJOR]))
    plain = mastering.master(chords, RATE, DEFAULT)
    assert plain.limited_db == 0.0
    # One gain for every sample (the reported gain is rounded to 0.01 dB).
    ratios = plain.samples[np.abs(chords) > 1e-3] / chords[np.abs(chords) > 1e-3]
    assert np.ptp(ratios) < 1e-4 * ratios.mean()
    assert 20 * np.log10(ratios.mean()) == pytest.approx(plain.gain_db, abs=0.01)


def test_any_target_in_the_allowed_range() -> None:
    target = mastering.Target(loudness_lufs=-23.0, true_peak_dbtp=-3.0)
    loudness, peak = measured(mastering.master(drums_and_pad(), RATE, target).samples)
    assert loudness == pytest.approx(-23.0, abs=0.5) and peak <= -3.0
    loud = mastering.Target(loudness_lufs=-6.0, true_peak_dbtp=0.0)
    loudness, peak = measured(mastering.master(drums_and_pad(), RATE, loud).samples)
    assert loudness == pytest.approx(-6.0, abs=0.5) and peak <= 0.0


def test_limiter_gain_never_exceeds_what_the_ceiling_allows() -> None:
    """The curve is built per block of ENVELOPE_HOP samples and interpolated: no sample's gain is
    above what its block's true peak allows, and the gain never jumps."""
    rng = np.random.default_rng(3)
    blocks = RATE // mastering.ENVELOPE_HOP
    envelope = np.abs(rng.standard_normal(blocks)).astype(np.float32) * rng.choice(
        [0.2, 3.0], blocks, p=[0.98, 0.02]
    )
    gain = mastering.limiter_gain(envelope, 0.9, RATE, RATE)
    per_sample = np.repeat(envelope, mastering.ENVELOPE_HOP)
    assert gain.shape == (RATE,)
    assert np.all(gain * per_sample <= 0.9 * (1 + 1e-6))
    assert np.all(gain <= 1.0) and np.abs(np.diff(gain)).max() < 0.02  # smooth: no gain jumps


def test_silence_is_left_as_it_is() -> None:
    silence = np.zeros((RATE * 2, 2), dtype=np.float32)
    result = mastering.master(silence, RATE, DEFAULT)
    assert result.gain_db == 0.0 and not result.samples.any()


def test_stems_get_one_gain_and_keep_their_relative_levels() -> None:
    t = seconds(10.0)
    bass = stereo(0.2 * np.sin(2 * np.pi * 55 * t))
    keys = stereo(0.05 * progression([A_MINOR, C_MAJOR], repeats=3, chord_s=10 / 6))
    stems = mastering.set_gain([bass, keys], RATE, DEFAULT)
    gain_db = stems.gain_db
    delivered = [mastering.apply_gain(stem, gain_db) for stem in (bass, keys)]
    ratio = 10 ** (gain_db / 20)
    for before, after in zip((bass, keys), delivered, strict=True):
        np.testing.assert_allclose(after, before * ratio, rtol=1e-5, atol=1e-7)
    mix_loudness, mix_peak = measured(delivered[0] + delivered[1])
    assert mix_loudness == pytest.approx(-14.0, abs=0.1)
    # What set_gain reports for the delivered mix is what a meter reads on it.
    assert stems.loudness_lufs == pytest.approx(mix_loudness, abs=0.01)
    assert stems.true_peak_dbtp == pytest.approx(mix_peak, abs=0.01)
    assert all(measured(stem)[1] <= -1.0 for stem in delivered)


def test_stems_stay_under_the_ceiling_rather_than_reach_the_loudness() -> None:
    """Peaky stems: the one gain stops at the ceiling (no limiter on stems); quieter than the target."""
    drums, pad = drums_and_pad(), stereo(0.01 * np.sin(2 * np.pi * 220 * seconds(20.0)))
    gain_db = mastering.set_gain([drums, pad], RATE, DEFAULT).gain_db
    loudest = analysis.true_peak_dbtp(drums + pad, RATE)
    assert gain_db == pytest.approx(-1.0 - max(loudest, analysis.true_peak_dbtp(drums, RATE)), abs=0.01)
    mix_loudness, mix_peak = measured(mastering.apply_gain(drums + pad, gain_db))
    assert mix_peak <= -1.0 + 0.01 and mix_loudness < -14.5
