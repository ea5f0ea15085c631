"""The engines on the tiny profile: the real diffusers AceStepPipeline and transformers MusicGen."""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pytest
from diffusers import AceStepPipeline
from song_model.engines import (
    AceStepEngine,
    Audio,
    AudioInput,
    MusicgenEngine,
    MusicJob,
    MusicMetadata,
    fit_length,
    take_seeds,
)
from song_model.errors import ValidationFailed


def test_fit_length_trims_and_pads() -> None:
    audio = np.ones((10, 2), dtype=np.float32)
    assert fit_length(audio, 4).shape == (4, 2)
    padded = fit_length(audio, 12)
    assert padded.shape == (12, 2) and padded[10:].sum() == 0


@pytest.fixture
def base_engine(tiny_models: Any) -> AceStepEngine:
    """A tiny base-kind checkpoint (classifier-free guidance), as acestep-v15-xl-base declares: the
    tiny profile's stems engine."""
    engine = tiny_models.stems_engine
    assert isinstance(engine, AceStepEngine)
    return engine


def spy() -> Any:
    """Records AceStepPipeline.__call__'s arguments while the real pipeline runs."""
    return mock.patch.object(AceStepPipeline, "__call__", autospec=True, side_effect=AceStepPipeline.__call__)


@pytest.mark.parametrize("duration", [1.0, 2.345, 3.7])
def test_acestep_renders_48k_stereo_of_exactly_the_requested_length(
    tiny_models: Any, duration: float
) -> None:
    engine = tiny_models.engine
    assert isinstance(engine, AceStepEngine) and isinstance(engine.pipeline, AceStepPipeline)
    audio = engine.generate(MusicJob("pop", "[verse]\nla la", duration, seed=1, steps=1))
    assert audio.sample_rate == 48000
    assert audio.samples.shape == (round(duration * 48000), 2)
    assert audio.samples.dtype == np.float32 and np.isfinite(audio.samples).all()
    assert 0 < np.abs(audio.samples).max() <= 1.0


def test_acestep_same_seed_same_samples_other_seed_other_samples(tiny_models: Any) -> None:
    def render(seed: int) -> np.ndarray:
        return tiny_models.engine.generate(MusicJob("rock", None, 1.0, seed=seed, steps=2)).samples

    first = render(7)
    assert np.array_equal(render(7), first)
    assert not np.array_equal(render(8), first)


def test_takes_render_in_one_batch_each_with_its_own_seed(tiny_models: Any) -> None:
    engine = tiny_models.engine
    job = MusicJob("rock", "[verse]\nla", 1.0, seed=0, steps=2)
    seeds = take_seeds(40, 3)
    assert seeds == [40, 41, 42] and take_seeds(2**32 - 1, 2) == [2**32 - 1, 0]
    with spy() as call:
        takes = engine.generate_takes(job, seeds)
    assert call.call_count == 1  # one pipeline call for all takes
    assert [g.initial_seed() for g in call.call_args.kwargs["generator"]] == seeds
    assert len(call.call_args.kwargs["prompt"]) == 3
    assert all(t.samples.shape == (48000, 2) for t in takes)
    assert not np.array_equal(takes[0].samples, takes[1].samples)
    assert not np.array_equal(takes[1].samples, takes[2].samples)
    # A take is the song its seed renders alone (same starting noise; batching changes only rounding).
    alone = engine.generate(MusicJob("rock", "[verse]\nla", 1.0, seed=41, steps=2))
    np.testing.assert_allclose(takes[1].samples, alone.samples, atol=1e-4)


def test_musicgen_renders_takes_one_after_another(tiny_musicgen: MusicgenEngine) -> None:
    takes = tiny_musicgen.generate_takes(MusicJob("rock", None, 1.0, seed=0), [5, 6])
    assert len(takes) == 2 and not np.array_equal(takes[0].samples, takes[1].samples)
    alone = tiny_musicgen.generate(MusicJob("rock", None, 1.0, seed=6))
    assert np.array_equal(takes[1].samples, alone.samples)


def test_music_metadata_and_sampling_reach_the_pipeline(tiny_models: Any) -> None:
    meta = MusicMetadata(bpm=96, key="F# minor", time_signature=3, vocal_language="ja")
    job = MusicJob("jazz", "[verse]\nhello", 1.0, seed=3, steps=3, metadata=meta)
    with spy() as call:
        tiny_models.engine.generate(job)
    kwargs = call.call_args.kwargs
    assert (kwargs["bpm"], kwargs["keyscale"], kwargs["timesignature"]) == (96, "F# minor", "3")
    assert kwargs["vocal_language"] == "ja"
    assert (kwargs["prompt"], kwargs["lyrics"], kwargs["audio_duration"]) == (
        ["jazz"],
        ["[verse]\nhello"],
        1.0,
    )
    assert kwargs["num_inference_steps"] == 3 and kwargs["task_type"] == "text2music"
    assert [g.initial_seed() for g in kwargs["generator"]] == [3]


def test_instrumental_and_unknown_metadata_use_acesteps_conventions(tiny_models: Any) -> None:
    with spy() as call:
        tiny_models.engine.generate(MusicJob("ambient", None, 1.0, seed=3, steps=1))
    kwargs = call.call_args.kwargs
    assert kwargs["lyrics"] == ["[Instrumental]"]
    assert kwargs["bpm"] is None and kwargs["keyscale"] is None and kwargs["timesignature"] is None
    assert kwargs["vocal_language"] == "unknown"


def test_turbo_defaults_8_steps_and_no_guidance(tiny_models: Any) -> None:
    engine = tiny_models.engine
    assert engine.turbo and engine.tasks == ("text2music", "cover", "repaint")
    job = MusicJob("pop", None, 1.0, seed=1, guidance_scale=9.0)
    assert (engine.sampling(job).steps, engine.sampling(job).guidance_scale) == (8, None)
    with spy() as call:
        engine.generate(job)
    kwargs = call.call_args.kwargs
    # A requested guidance scale is not used: turbo is guidance-distilled.
    assert (kwargs["num_inference_steps"], kwargs["guidance_scale"], kwargs["shift"]) == (8, 1.0, 3.0)


def test_base_defaults_50_steps_guidance_7_and_honours_overrides(base_engine: AceStepEngine) -> None:
    assert not base_engine.turbo and "extract" in base_engine.tasks
    default = base_engine.sampling(MusicJob("pop", None, 1.0, seed=1))
    assert (default.steps, default.guidance_scale) == (50, 7.0)
    job = MusicJob("pop", None, 1.0, seed=1, steps=2, guidance_scale=4.5)
    with spy() as call:
        audio = base_engine.generate(job)
    kwargs = call.call_args.kwargs
    assert (kwargs["num_inference_steps"], kwargs["guidance_scale"]) == (2, 4.5)
    assert base_engine.pipeline.do_classifier_free_guidance
    assert audio.samples.shape == (48000, 2)


def test_audio_input_tasks_reach_the_pipeline(tiny_models: Any) -> None:
    """The interface the audio-in modes build on: repaint a window of a source track."""
    rng = np.random.default_rng(0)
    source = Audio((rng.standard_normal((96000, 2)) * 0.1).astype(np.float32), 48000)
    job = MusicJob(
        "rock", None, 2.0, seed=5, steps=1,
        audio_input=AudioInput("repaint", source=source, start_s=0.5, end_s=1.5),
    )  # fmt: skip
    with spy() as call:
        audio = tiny_models.engine.generate(job)
    kwargs = call.call_args.kwargs
    assert kwargs["task_type"] == "repaint"
    assert (kwargs["repainting_start"], kwargs["repainting_end"]) == (0.5, 1.5)
    assert kwargs["src_audio"].shape == (2, 96000)
    assert audio.samples.shape == (96000, 2)


def test_source_audio_is_padded_to_whole_latent_steps(tiny_models: Any) -> None:
    """A source ending mid-step (1 s + 100 samples) is padded to whole steps of the VAE's hop; a
    window to its end (extend) runs to the last latent, padding included (repainting_end None)."""
    engine = tiny_models.engine
    assert engine.latent_hop == 48 * 40  # the tiny VAE's downsampling ratios, as the real 1920
    source = Audio(np.full((48100, 2), 0.1, dtype=np.float32), 48000)
    job = MusicJob(
        "rock", None, 48100 / 48000, seed=5, steps=1,
        audio_input=AudioInput("repaint", source=source, start_s=0.5, end_s=48100 / 48000),
    )  # fmt: skip
    with spy() as call:
        audio = engine.generate(job)
    kwargs = call.call_args.kwargs
    assert kwargs["src_audio"].shape == (2, 26 * 1920)
    assert kwargs["repainting_start"] == 0.5 and kwargs["repainting_end"] is None
    assert audio.samples.shape == (48100, 2)


def test_a_task_the_checkpoint_lacks_is_a_validation_error(tiny_models: Any, tiny_musicgen: Any) -> None:
    extract = MusicJob("x", None, 1.0, seed=1, audio_input=AudioInput("extract", track_name="vocals"))
    with pytest.raises(ValidationFailed, match="extract"):
        tiny_models.engine.generate(extract)
    with pytest.raises(ValidationFailed, match="cover"):
        tiny_musicgen.generate(MusicJob("x", None, 1.0, seed=1, audio_input=AudioInput("cover")))


@pytest.mark.parametrize("duration", [0.3, 2.0, 3.7])
def test_musicgen_windows_cover_long_songs_exactly(tiny_musicgen: Any, duration: float) -> None:
    base = tiny_musicgen
    # A 1 s window with 0.5 s of context forces several continuation windows for 2-3.7 s songs.
    engine = MusicgenEngine(base.model, base.tokenizer, base.device, window_s=1.0, context_s=0.5)
    audio = engine.generate(MusicJob("pop", None, duration, seed=5))
    assert engine.sampling(MusicJob("pop", None, duration, seed=5)).guidance_scale == 3.0
    assert audio.sample_rate == 32000
    assert audio.samples.shape == (round(duration * 32000), 1)
    assert audio.samples.dtype == np.float32
    # Every window contributed sound (a zero-padded tail would mean a window came back short).
    tail = audio.samples[-3200:]
    assert np.abs(tail).max() > 0


def test_musicgen_rejects_a_context_longer_than_the_window(tiny_musicgen: Any) -> None:
    base = tiny_musicgen
    with pytest.raises(ValueError, match="context_s"):
        MusicgenEngine(base.model, base.tokenizer, base.device, window_s=1.0, context_s=1.0)
