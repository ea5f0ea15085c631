"""Every take measured, mastered, scored and ranked: the manifest's new fields from real tiny runs."""

from __future__ import annotations

import dataclasses
import io
import re
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import BUCKET, make_request
from song_model import analysis, ranking
from song_model.audio_io import to_pcm16
from song_model.pipeline import SongPipeline
from song_model.schemas import Manifest, parse_request
from test_audio_in import _put_source, _request

LRC_ROW = re.compile(r"^\[(\d{2}):(\d{2})\.(\d{2})\](.*)$")
VOCAL = {"mode": "custom_lyrics", "duration_s": 3.0}


def run(models: Any, **body: Any) -> Manifest:
    return SongPipeline(models).run(parse_request(make_request(**body)))


def fetch(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def decoded(s3: Any, key: str) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(fetch(s3, key)), dtype="float32", always_2d=True)
    assert rate == 48_000
    return samples


def test_every_take_has_analysis_scores_rank_and_timed_lyrics(tiny_models: Any, s3: Any) -> None:
    manifest = run(tiny_models, **VOCAL, variants=2, seed=5, bpm=120, key="A minor", title="Road")
    assert [t.take for t in manifest.takes] == [1, 2] and [t.seed for t in manifest.takes] == [5, 6]
    assert sorted(t.rank for t in manifest.takes) == [1, 2]
    assert next(t for t in manifest.takes if t.rank == 1).take == manifest.best_take
    quality = [ranking.quality(ranking.Scores(**t.scores.model_dump())) for t in manifest.takes]
    assert quality[manifest.best_take - 1] == max(quality)
    for take in manifest.takes:
        assert take.analysis.duration_s == 3.0
        assert -1.0 <= take.scores.text_audio <= 1.0
        assert 0.0 <= take.scores.lyrics_accuracy <= 1.0
        # The request set a tempo and a key: compared wherever the take had one to measure.
        assert (take.scores.bpm_error is None) == (take.analysis.bpm is None)
        assert (take.scores.key_match is None) == (take.analysis.key is None)
        timing = take.lyrics_timing
        assert timing is not None
        assert timing.key == f"scratch/job-1/lyrics{'' if take.take == 1 else '-take2'}.lrc"
        body = fetch(s3, timing.key)
        assert len(body) == timing.size_bytes
        rows = body.decode().splitlines()
        assert rows[:2] == ["[ti:Road]", "[length:00:03]"]
        lines = [LRC_ROW.match(row) for row in rows[2:]]
        assert all(lines), rows
        sung = [m.group(4) for m in lines if m.group(4)]
        assert sung == ["sun on the road", "la la"] and timing.lines == 2
        assert 0 <= timing.measured_lines <= 2
    assert manifest.mastering is not None and manifest.mastering.loudness_lufs == -14.0


def test_the_delivered_file_measures_what_the_manifest_reports(tiny_models: Any, s3: Any) -> None:
    """A listener's meter on the delivered WAV reads the manifest's analysis; the true peak is under
    the ceiling (the tiny model's random audio is too peaky to reach -14 LUFS under it: real songs
    are in test_mastering.py)."""
    manifest = run(tiny_models, **VOCAL, mastering={"loudness_lufs": -16, "true_peak_dbtp": -2})
    (take,) = manifest.takes
    delivered = decoded(s3, manifest.audio[0].key)
    assert analysis.true_peak_dbtp(delivered, 48_000) <= -2.0 + 0.01  # 16-bit rounding
    assert analysis.integrated_loudness(delivered, 48_000) == pytest.approx(
        take.analysis.loudness_lufs, abs=0.05
    )
    assert take.analysis.true_peak_dbtp <= -2.0 and take.gain_db != 0.0
    assert manifest.mastering is not None and manifest.mastering.true_peak_dbtp == -2.0


def test_mastering_null_delivers_the_raw_level(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = tiny_models.engine
    rendered: list[Any] = []
    generate = engine.generate_takes

    def keep(*args: Any, **kwargs: Any) -> Any:
        takes = generate(*args, **kwargs)
        rendered.extend(takes)
        return takes

    monkeypatch.setattr(engine, "generate_takes", keep)
    manifest = run(tiny_models, **VOCAL, mastering=None)
    assert manifest.mastering is None and manifest.takes[0].gain_db == 0.0
    raw, _ = sf.read(io.BytesIO(fetch(s3, manifest.audio[0].key)), dtype="int16", always_2d=True)
    assert np.array_equal(raw, to_pcm16(rendered[0].samples))


def test_instrumental_takes_have_no_lyrics_score_and_no_lrc(tiny_models: Any, s3: Any) -> None:
    manifest = run(tiny_models, **VOCAL, instrumental=True)
    (take,) = manifest.takes
    assert take.scores.lyrics_accuracy is None and take.lyrics_timing is None
    assert take.scores.text_audio is not None
    assert take.scores.bpm_error is None and take.scores.key_match is None  # none requested
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert not any(key.endswith(".lrc") for key in keys)


def test_scoring_off_keeps_the_analysis_and_the_ranking(tiny_models: Any, s3: Any) -> None:
    unscored = dataclasses.replace(tiny_models, scorer=None)
    manifest = run(unscored, **VOCAL, variants=2, bpm=100)
    assert [t.rank for t in manifest.takes] in ([1, 2], [2, 1])
    for take in manifest.takes:
        assert take.scores.text_audio is None and take.scores.lyrics_accuracy is None
        assert take.lyrics_timing is None and take.analysis.loudness_lufs is not None


def test_stems_are_one_take_mastered_with_one_gain(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stems_engine = tiny_models.stems_engine
    raw: dict[str, np.ndarray] = {}
    generate = stems_engine.generate

    def keep(job: Any) -> Any:
        audio = generate(job)
        raw[job.audio_input.track_name] = audio.samples
        return audio

    monkeypatch.setattr(stems_engine, "generate", keep)
    manifest = SongPipeline(tiny_models).run(_request("stems", _put_source(s3), tracks=["vocals", "bass"]))
    (take,) = manifest.takes
    assert take.take == 1 and take.rank == 1 and manifest.best_take == 1
    assert take.scores.text_audio is None and take.lyrics_timing is None
    gain = 10 ** (take.gain_db / 20)
    for audio in manifest.audio:
        delivered = decoded(s3, audio.key)
        # One gain for every stem (up to 16-bit rounding and the 0.01 dB the manifest rounds to).
        np.testing.assert_allclose(delivered, raw[audio.track] * gain, rtol=2e-3, atol=2 / 32767)


def test_repaint_outside_the_window_is_the_source_only_with_mastering_off(tiny_models: Any, s3: Any) -> None:
    source = _put_source(s3)
    original = decoded(s3, source["key"])
    mastered = SongPipeline(tiny_models).run(_request("repaint", source, start_s=1.0, end_s=2.0))
    outside = decoded(s3, mastered.audio[0].key)[:48_000]
    assert np.abs(outside - original[:48_000]).max() > 1e-3  # the mastering gain applies everywhere


def test_offloaded_scoring_models_are_on_the_device_for_the_measure_stage_only(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GPU_OFFLOAD=...,scoring: CLAP and Whisper come in after the cover and leave before upload."""
    import torch
    from song_model.residency import DEVICE, HOST, Residency

    residency = Residency(torch.device("cpu"), {"scoring"})
    residency.place("scoring", tiny_models.scorer.modules)
    models = dataclasses.replace(tiny_models, residency=residency)
    seen: dict[str, str] = {}

    def watch(stage: str, method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[stage] = residency.where("scoring")
            return method(*args, **kwargs)

        return call

    scorer, cover = models.scorer, models.cover
    monkeypatch.setattr(cover, "paint", watch("cover", cover.paint))
    monkeypatch.setattr(scorer, "transcribe", watch("transcribe", scorer.transcribe))
    run(models, **VOCAL)
    assert seen == {"cover": HOST, "transcribe": DEVICE}
    assert residency.moves == [("scoring", DEVICE), ("scoring", HOST)]
