"""The pipeline end to end on the tiny profile, writing to moto S3."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
from conftest import BUCKET, make_request
from diffusers import AceStepPipeline
from PIL import Image
from song_model.categories import GENRES
from song_model.pipeline import SongPipeline
from song_model.residency import DEVICE, HOST
from song_model.schemas import Manifest, parse_request

MANIFEST_KEYS = {
    "job_id", "audio", "cover", "sample_rate", "duration_s", "lyrics", "prompt", "categories", "seed",
    "seeds", "engine", "music", "takes", "best_take", "mastering", "timings", "persona",
}  # fmt: skip


def run(models: Any, **body: Any) -> dict[str, Any]:
    manifest = SongPipeline(models).run(parse_request(make_request(**body)))
    return manifest.model_dump(mode="json")


def fetch(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.mark.parametrize("mode", ["description", "custom_lyrics", "described_lyrics"])
def test_each_mode_produces_a_complete_manifest(tiny_models: Any, s3: Any, mode: str) -> None:
    manifest = run(tiny_models, mode=mode)
    assert set(manifest) == MANIFEST_KEYS
    Manifest.model_validate(manifest)
    assert manifest["job_id"] == "job-1"
    assert manifest["engine"] == "acestep" and manifest["sample_rate"] == 48000
    assert manifest["seed"] == 42
    assert manifest["duration_s"] == pytest.approx(1.5)
    assert manifest["persona"] is None  # no persona asked for
    assert manifest["prompt"]
    assert manifest["lyrics"].startswith("[")
    assert 3 <= len(manifest["categories"]) <= 5 and set(manifest["categories"]) <= set(GENRES)
    assert set(manifest["timings"]) == {"lyrics_s", "music_s", "cover_s", "measure_s", "upload_s", "total_s"}
    assert manifest["timings"]["total_s"] >= manifest["timings"]["music_s"] > 0


def test_prompt_and_lyrics_come_from_the_request_when_given(tiny_models: Any, s3: Any) -> None:
    manifest = run(tiny_models, mode="custom_lyrics")
    assert manifest["prompt"] == "pop, upbeat, guitar"
    assert manifest["lyrics"] == "[verse]\nsun on the road\n[chorus]\nla la"


def test_described_lyrics_are_written_by_the_llm_from_the_description(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = tiny_models.songwriter
    calls: list[tuple[Any, ...]] = []

    def lyrics(about: str, style: str, duration_s: float, seed: int) -> str:
        calls.append((about, style, duration_s, seed))
        return "[verse]\nwritten"

    monkeypatch.setattr(writer, "lyrics", lyrics)
    described = run(tiny_models, mode="described_lyrics")
    assert calls == [("friends on a road trip", "rock, energetic", 1.5, 42)]
    assert described["prompt"] == "rock, energetic"
    assert described["lyrics"] == "[verse]\nwritten"


@pytest.mark.parametrize("mode", ["description", "custom_lyrics", "described_lyrics"])
def test_instrumental_has_no_lyrics(tiny_models: Any, s3: Any, mode: str) -> None:
    assert run(tiny_models, mode=mode, instrumental=True)["lyrics"] is None


def test_every_format_decodes_with_the_right_rate_and_length(tiny_models: Any, s3: Any) -> None:
    manifest = run(tiny_models, formats=["wav", "mp3", "flac"], duration_s=2.0)
    by_format = {a["format"]: a for a in manifest["audio"]}
    assert set(by_format) == {"wav", "mp3", "flac"}
    types = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
    for fmt, entry in by_format.items():
        assert entry["bucket"] == BUCKET
        assert entry["key"] == f"scratch/job-1/audio.{fmt}"
        assert entry["content_type"] == types[fmt]
        obj = s3.get_object(Bucket=BUCKET, Key=entry["key"])
        assert obj["ContentType"] == types[fmt]
        body = obj["Body"].read()
        assert len(body) == entry["size_bytes"]
        samples, rate = sf.read(io.BytesIO(body), dtype="float32")
        assert rate == manifest["sample_rate"] == 48000
        assert sf.info(io.BytesIO(body)).channels == 2
        # MP3 frames carry encoder delay and padding: allow one 1152-sample frame each way.
        tolerance = 2 * 1152 / rate if fmt == "mp3" else 1 / rate
        assert abs(len(samples) / rate - 2.0) <= tolerance, fmt
        assert np.isfinite(samples).all() and np.abs(samples).max() <= 1.0


def test_variants_render_one_file_per_take_and_format_with_their_seeds(tiny_models: Any, s3: Any) -> None:
    with mock.patch.object(
        AceStepPipeline, "__call__", autospec=True, side_effect=AceStepPipeline.__call__
    ) as call:
        manifest = run(tiny_models, seed=10, variants=3, formats=["wav", "flac"])
    assert call.call_count == 1  # the three takes share one batch
    assert manifest["seed"] == 10 and manifest["seeds"] == [10, 11, 12]
    keys = {(a["take"], a["format"]): a["key"] for a in manifest["audio"]}
    assert keys == {
        (take, fmt): f"scratch/job-1/audio{'' if take == 1 else f'-take{take}'}.{fmt}"
        for take in (1, 2, 3)
        for fmt in ("wav", "flac")
    }
    takes = [fetch(s3, keys[(take, "wav")]) for take in (1, 2, 3)]
    assert len(set(takes)) == 3
    # The takes share the song's words (written with the first seed) and its cover.
    assert len({a["key"] for a in manifest["audio"]}) == 6 and manifest["cover"]["key"].endswith("cover.png")


def test_a_take_is_what_its_seed_renders_alone_with_the_same_words(tiny_models: Any, s3: Any) -> None:
    takes = run(tiny_models, mode="custom_lyrics", seed=10, variants=2)
    alone = run(tiny_models, mode="custom_lyrics", seed=11)
    second = next(a["key"] for a in takes["audio"] if a["take"] == 2)
    a, _ = sf.read(io.BytesIO(fetch(s3, second)), dtype="float32")
    b, _ = sf.read(io.BytesIO(fetch(s3, alone["audio"][0]["key"])), dtype="float32")
    assert np.abs(a - b).max() < 1e-3  # batching changes rounding only


def test_lossless_formats_hold_the_same_samples(tiny_models: Any, s3: Any) -> None:
    manifest = run(tiny_models, formats=["wav", "flac"])
    wav, _ = sf.read(io.BytesIO(fetch(s3, manifest["audio"][0]["key"])), dtype="int16")
    flac, _ = sf.read(io.BytesIO(fetch(s3, manifest["audio"][1]["key"])), dtype="int16")
    assert np.array_equal(wav, flac)


def test_cover_is_a_png_of_the_reported_size(tiny_models: Any, s3: Any) -> None:
    cover = run(tiny_models)["cover"]
    assert cover["key"] == "scratch/job-1/cover.png"
    assert cover["content_type"] == "image/png"
    body = fetch(s3, cover["key"])
    assert len(body) == cover["size_bytes"]
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    assert image.size == (cover["width"], cover["height"]) == (64, 64)


def _outputs(s3: Any, manifest: dict[str, Any]) -> tuple[bytes, bytes]:
    return fetch(s3, manifest["audio"][0]["key"]), fetch(s3, manifest["cover"]["key"])


def test_the_same_seed_reproduces_words_audio_and_cover(tiny_models: Any, s3: Any) -> None:
    first = run(tiny_models, seed=7)
    first_media = _outputs(s3, first)
    second = run(tiny_models, seed=7)
    assert _outputs(s3, second) == first_media
    for key in ("prompt", "lyrics", "categories"):
        assert second[key] == first[key]
    other = run(tiny_models, seed=8)
    other_audio, other_cover = _outputs(s3, other)
    assert other_audio != first_media[0]
    assert other_cover != first_media[1]
    assert other["lyrics"] != first["lyrics"]


def test_a_missing_seed_is_chosen_and_reported(tiny_models: Any, s3: Any) -> None:
    first = run(tiny_models, seed=None)
    assert 0 <= first["seed"] < 2**32
    media = _outputs(s3, first)
    again = run(tiny_models, seed=first["seed"])
    assert _outputs(s3, again) == media


def test_a_ten_minute_song_is_rendered_to_the_sample(tiny_models: Any, s3: Any) -> None:
    """The longest request the API accepts, through the real pipeline (1 step keeps it cheap)."""
    manifest = run(
        tiny_models, mode="custom_lyrics", instrumental=True, duration_s=600, inference_steps=1, seed=3
    )
    assert manifest["duration_s"] == 600.0
    info = sf.info(io.BytesIO(fetch(s3, manifest["audio"][0]["key"])))
    assert (info.frames, info.samplerate, info.channels) == (600 * 48000, 48000, 2)


def test_music_settings_report_defaults_and_request_metadata(tiny_models: Any, s3: Any) -> None:
    body = {"bpm": 140, "key": "Bb major", "time_signature": 6, "vocal_language": "es"}
    manifest = run(tiny_models, mode="custom_lyrics", inference_steps=None, duration_s=1.0, **body)
    assert manifest["music"] == {"inference_steps": 8, "guidance_scale": None, **body}


def test_description_mode_fills_missing_metadata_from_the_songwriter(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LLM's proposal is parsed and passed to ACE-Step; what the user set always wins."""
    writer = tiny_models.songwriter
    answer = "Sure!\nbpm: 128 BPM\nkey: a minor\ntime signature: 4/4\nlanguage: EN"
    monkeypatch.setattr(writer, "_chat", lambda user, seed, max_new_tokens: answer)
    with mock.patch.object(
        AceStepPipeline, "__call__", autospec=True, side_effect=AceStepPipeline.__call__
    ) as call:
        manifest = run(tiny_models, mode="description", bpm=90, duration_s=1.0)
    kwargs = call.call_args.kwargs
    assert (kwargs["bpm"], kwargs["keyscale"], kwargs["timesignature"], kwargs["vocal_language"]) == (
        90, "A minor", "4", "en",
    )  # fmt: skip
    assert manifest["music"]["key"] == "A minor"


def test_other_modes_do_not_ask_the_songwriter_for_metadata(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise AssertionError("metadata proposed outside description mode")

    monkeypatch.setattr(tiny_models.songwriter, "metadata", fail)
    assert run(tiny_models, mode="custom_lyrics", duration_s=1.0)["music"]["bpm"] is None


def test_the_llm_is_on_the_device_for_the_words_only(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default GPU_OFFLOAD (llm, stems): the music and the cover run with neither on the GPU
    (docs/container.md, "GPU memory"). Real placement is observed where it happens."""
    residency = tiny_models.residency
    assert residency.offload == {"llm", "stems"}
    placement: dict[str, tuple[str, str]] = {}

    def watch(stage: str, method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            placement[stage] = (residency.where("llm"), residency.where("stems"))
            return method(*args, **kwargs)

        return call

    writer, engine, cover = tiny_models.songwriter, tiny_models.engine, tiny_models.cover
    monkeypatch.setattr(writer, "lyrics", watch("lyrics", writer.lyrics))
    monkeypatch.setattr(engine, "generate_takes", watch("music", engine.generate_takes))
    monkeypatch.setattr(cover, "paint", watch("cover", cover.paint))
    residency.moves.clear()
    run(tiny_models, mode="description", duration_s=1.0)
    assert placement == {"lyrics": (DEVICE, HOST), "music": (HOST, HOST), "cover": (HOST, HOST)}
    assert residency.moves == [("llm", DEVICE), ("llm", HOST)]


def test_a_failed_stage_leaves_the_llm_off_the_device(
    tiny_models: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> str:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(tiny_models.songwriter, "lyrics", broken)
    with pytest.raises(Exception, match="lyrics failed"):
        run(tiny_models, mode="description", duration_s=1.0)
    assert tiny_models.residency.where("llm") == HOST
