"""The upload analyzer (transcriber/analyzer.py) in-process with moto S3: uploads whose answers are
known (a click track's tempo, a sine's level, a chord progression's key) measured through the same
decoding and the model container's own measuring module, and every refusal a typed error."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from transcriber import analyzer
from transcriber.errors import AudioRejected, InvalidRequest, SourceMissing
from transcriber.settings import SettingsError

from tests.container.signals import A_MINOR, D_MINOR, E_MAJOR, click_track, progression, seconds

from .conftest import BUCKET

KEY = "uploads/alice/0b5f8f9e-3f7a-4c2b-9d7e-1a2b3c4d5e6f"


@pytest.fixture
def uploads(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `s3` fixture's bucket as the analyzer's uploads bucket; the function starts cold."""
    monkeypatch.setenv("UPLOADS_BUCKET_NAME", BUCKET)
    monkeypatch.delenv("MAX_DURATION_S", raising=False)
    analyzer.cold_start.reset()
    return s3


def _upload(s3: Any, samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str = "PCM_16") -> None:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=buffer.getvalue())


def test_a_120_bpm_click_track_measures_120_bpm(uploads: Any) -> None:
    clicks = click_track(120.0, 20.0, rate=44_100)
    _upload(uploads, np.stack([clicks, clicks], axis=1), 44_100)
    result = analyzer.lambda_handler({"key": KEY}, None)
    assert result["key"] == KEY and result["seconds"] > 0
    measured = result["analysis"]
    assert measured["bpm"] == pytest.approx(120.0, rel=0.02)
    assert measured["duration_s"] == pytest.approx(20.0, abs=0.01)


def test_a_sine_at_a_known_level_reads_that_loudness_and_true_peak(uploads: Any) -> None:
    """A 997 Hz sine at -20 dBFS on both channels: BS.1770 reads -20 LUFS (a full-scale 1 kHz sine on
    one channel is -3.01 LUFS), and its true peak is -20 dBTP. The reference implementation
    (pyloudnorm on the same samples at the file's own rate) agrees within 0.5 LU."""
    rate = 44_100
    sine = 0.1 * np.sin(2 * np.pi * 997.0 * seconds(10.0, rate))
    both = np.stack([sine, sine], axis=1)
    _upload(uploads, both, rate, fmt="FLAC", subtype="PCM_24")
    measured = analyzer.lambda_handler({"key": KEY}, None)["analysis"]
    assert measured["loudness_lufs"] == pytest.approx(-20.0, abs=0.5)
    reference = pyloudnorm.Meter(rate).integrated_loudness(both)
    assert measured["loudness_lufs"] == pytest.approx(reference, abs=0.5)
    assert measured["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.2)


def test_a_minor_progression_is_a_minor(uploads: Any) -> None:
    _upload(uploads, progression([A_MINOR, D_MINOR, E_MAJOR, A_MINOR]), 48_000)
    measured = analyzer.lambda_handler({"key": KEY}, None)["analysis"]
    assert measured["key"] == "A minor"
    assert 0.5 < measured["key_confidence"] <= 1.0


def test_silence_has_a_length_and_nothing_else(uploads: Any) -> None:
    _upload(uploads, np.zeros((48_000 * 3, 2)), 48_000)
    measured = analyzer.lambda_handler({"key": KEY}, None)["analysis"]
    assert measured == {
        "duration_s": 3.0,
        "loudness_lufs": None,
        "true_peak_dbtp": None,
        "bpm": None,
        "key": None,
        "key_confidence": None,
    }


def test_only_keys_under_the_uploads_prefix_are_read(uploads: Any) -> None:
    for key in ("songs/alice/s1/audio.wav", "uploads/../songs/x", ""):
        with pytest.raises(InvalidRequest):
            analyzer.lambda_handler({"key": key}, None)
    with pytest.raises(InvalidRequest):
        analyzer.lambda_handler({}, None)


def test_a_missing_or_undecodable_upload_is_a_typed_error(uploads: Any) -> None:
    with pytest.raises(SourceMissing):
        analyzer.lambda_handler({"key": KEY}, None)
    uploads.put_object(Bucket=BUCKET, Key=KEY, Body=b"not audio at all")
    with pytest.raises(AudioRejected):
        analyzer.lambda_handler({"key": KEY}, None)


def test_its_settings_name_only_the_uploads_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    from transcriber.settings import AnalyzerSettings

    assert AnalyzerSettings.variables() == ["UPLOADS_BUCKET_NAME", "MAX_DURATION_S"]
    monkeypatch.delenv("UPLOADS_BUCKET_NAME", raising=False)
    analyzer.cold_start.reset()
    with pytest.raises(SettingsError, match="UPLOADS_BUCKET_NAME"):
        analyzer.lambda_handler({"key": KEY}, None)


def test_the_images_build_check_runs_the_measurements_too(capsys: pytest.CaptureFixture[str]) -> None:
    """The Dockerfile's `python -m transcriber.warm_up`: with song_model.analysis where the image
    copies it, the build fails unless the measurements run (and compiles their numba kernels)."""
    from transcriber import warm_up

    warm_up.main()
    assert "warm-up: analysis measured" in capsys.readouterr().out
