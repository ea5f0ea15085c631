"""Signal measurements against synthesised audio with known answers."""

from __future__ import annotations

import sys

import numpy as np
import pyloudnorm
import pytest
from signals import (
    A_MINOR,
    C_MAJOR,
    D_MINOR,
    E_MAJOR,
    F_MAJOR,
    G_MAJOR,
    RATE,
    click_track,
    progression,
    seconds,
    stereo,
)
from song_model import analysis


@pytest.mark.parametrize("bpm", [120, 87, 174])
def test_a_click_track_measures_its_tempo_within_two_percent(bpm: float) -> None:
    mono = analysis.analysis_mono(click_track(bpm, 20.0), RATE)
    assert analysis.estimate_tempo(mono) == pytest.approx(bpm, rel=0.02)


def test_a_minor_progression_is_a_minor_and_a_major_one_c_major() -> None:
    minor = analysis.analyze(stereo(progression([A_MINOR, D_MINOR, E_MAJOR, A_MINOR])), RATE)
    assert minor.key == "A minor" and minor.key_confidence > 0.6
    major = analysis.analyze(stereo(progression([C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR])), RATE)
    assert major.key == "C major" and major.key_confidence > 0.6


def test_a_transposed_progression_names_its_own_key() -> None:
    up_a_fourth = [[note + 5 for note in chord] for chord in (A_MINOR, D_MINOR, E_MAJOR, A_MINOR)]
    key = analysis.estimate_key(analysis.analysis_mono(progression(up_a_fourth), RATE))
    assert key is not None and key[0] == "D minor"


def test_ebu_reference_sine_reads_minus_23_lufs() -> None:
    """EBU Tech 3341 test 1: a stereo 1 kHz sine at -23 dBFS is -23.0 LUFS (+-0.1); the meter is
    BS.1770-4's, so it agrees with pyloudnorm called directly."""
    tone = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * seconds(20.0))
    measured = analysis.integrated_loudness(stereo(tone), RATE)
    assert measured == pytest.approx(-23.0, abs=0.1)
    assert measured == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(stereo(tone)), abs=0.01)
    # Mono: one channel, 3 dB less.
    assert analysis.integrated_loudness(tone, RATE) == pytest.approx(-26.0, abs=0.1)


def test_true_peak_catches_the_peak_between_samples() -> None:
    """A quarter-sample-rate sine at 45 degrees is sampled at 0.707 of its amplitude: the sample
    peak reads 3 dB low, the 4x oversampled true peak reads the amplitude."""
    amplitude = 0.5
    t = seconds(1.0)
    tone = amplitude * np.sin(2 * np.pi * (RATE / 4) * t + np.pi / 4)
    tone *= np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)  # no edge transients
    sample_peak = 20 * np.log10(np.abs(tone).max())
    true_peak = analysis.true_peak_dbtp(tone, RATE)
    assert sample_peak == pytest.approx(20 * np.log10(amplitude) - 3.01, abs=0.05)
    assert true_peak == pytest.approx(20 * np.log10(amplitude), abs=0.1)


def test_silence_and_short_audio_have_no_loudness_or_key() -> None:
    silence = np.zeros((RATE * 3, 2), dtype=np.float32)
    measured = analysis.analyze(silence, RATE)
    assert measured == analysis.Analysis(3.0, None, None, None, None, None)
    short = stereo(0.1 * np.sin(2 * np.pi * 440 * seconds(0.3)))
    assert analysis.integrated_loudness(short, RATE) is None
    assert analysis.analyze(short, RATE).true_peak_dbtp == pytest.approx(-20.0, abs=0.1)


def test_analysis_reports_rounded_measurements_of_any_rate() -> None:
    """MusicGen renders 32 kHz mono: the same measurements, the true peak oversampled 6x."""
    rate = 32_000
    clicks = click_track(120, 12.0, rate)
    measured = analysis.analyze(clicks, rate)
    assert measured.duration_s == 12.0
    assert measured.bpm == pytest.approx(120, rel=0.02)
    assert measured.true_peak_dbtp == pytest.approx(20 * np.log10(np.abs(clicks).max()), abs=0.3)
    assert measured.loudness_lufs is not None and measured.loudness_lufs < -10


def test_the_module_needs_no_torch() -> None:
    """A CPU function analysing uploads reuses it without the model stack."""
    import subprocess

    code = (
        "import sys; sys.path.insert(0, 'sagemaker_containers/music');"
        "import song_model.analysis, song_model.mastering, song_model.lyrics_timing, song_model.ranking;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    from conftest import CONTAINER_DIR

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=CONTAINER_DIR.parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
