"""Personas in the container with the real AceStepPipeline (tiny random weights): the reference clip
is read from S3, checked, decoded and passed as `reference_audio`, in text modes and covers.

A reference render costs one VAE encode of 30 s (the pipeline's reference window) on top of the
song: about 5 s each on the 2-core test machine, so these tests render as few as they can.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import Any
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import BUCKET, Client, make_request
from diffusers import AceStepPipeline
from song_model import persona
from song_model.engines import TEXT2MUSIC, Audio, AudioInput, MusicJob
from song_model.errors import SourceMissing, ValidationFailed
from song_model.models import Models
from song_model.pipeline import SongPipeline
from song_model.schemas import Persona, parse_request

RATE = 48_000
CLIP_KEY = "personas/alice/p1/reference.wav"


def _clip(seconds: float = 5.0, pitch_hz: float = 220.0, rate: int = RATE, peak: float = 0.4) -> np.ndarray:
    """A voice-like harmonic tone with vibrato, (frames, 2)."""
    t = np.arange(round(seconds * rate)) / rate
    phase = 2 * np.pi * pitch_hz * t + 3 * np.sin(2 * np.pi * 5 * t)
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    tone = peak * tone / np.abs(tone).max()
    return np.stack([tone, 0.8 * tone], axis=1).astype(np.float32)


def _wav(samples: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _put(s3: Any, data: bytes, key: str = CLIP_KEY, style: str | None = "breathy alto") -> dict[str, Any]:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    reference = {"bucket": BUCKET, "key": key}
    return {"reference": reference, "sha256": hashlib.sha256(data).hexdigest(), "style": style}


def _spy() -> Any:
    return mock.patch.object(AceStepPipeline, "__call__", autospec=True, side_effect=AceStepPipeline.__call__)


def _timbre_outputs(engine: Any) -> tuple[list[torch.Tensor], Any]:
    """What the condition encoder's timbre encoder returns per render (its pooled embeddings)."""
    seen: list[torch.Tensor] = []
    hook = engine.pipeline.condition_encoder.timbre_encoder.register_forward_hook(
        lambda _module, _args, output: seen.append(output[0].detach().clone())
    )
    return seen, hook


def test_a_reference_conditions_the_timbre_and_changes_the_song(tiny_models: Models) -> None:
    """The clip reaches the real pipeline as `reference_audio` in text2music, the timbre encoder
    embeds each clip differently, and a different clip gives a different song with the same seed."""
    engine = tiny_models.engine

    def render(reference: Audio | None) -> np.ndarray:
        audio_input = AudioInput(TEXT2MUSIC, reference=reference) if reference else None
        job = MusicJob("soul", "[verse]\nla la", 1.0, seed=3, steps=2, audio_input=audio_input)
        return engine.generate(job).samples

    low, high = Audio(_clip(pitch_hz=110.0), RATE), Audio(_clip(pitch_hz=660.0), RATE)
    seen, hook = _timbre_outputs(engine)
    try:
        with _spy() as call:
            with_low = render(low)
        with_high, without = render(high), render(None)
    finally:
        hook.remove()
    kwargs = call.call_args.kwargs
    assert kwargs["task_type"] == "text2music" and kwargs["src_audio"] is None
    assert torch.equal(kwargs["reference_audio"], torch.from_numpy(low.samples.T.copy()))
    timbre_low, timbre_high, timbre_silence = seen
    assert (timbre_low - timbre_high).abs().max() > 1e-3 * timbre_low.abs().max()
    assert not torch.equal(timbre_low, timbre_silence)
    assert not np.array_equal(with_low, with_high)
    assert not np.array_equal(with_low, without)


def test_the_same_persona_and_seed_give_the_same_song(tiny_models: Models, s3: Any) -> None:
    """Bit-identical media and manifest, the clip's checksum recorded, the style in the prompt."""
    chosen = _put(s3, _wav(_clip()))
    body = make_request("custom_lyrics", persona=chosen, duration_s=1.0)
    request = parse_request(body)
    scorer = tiny_models.measurer.scorer
    assert scorer is not None
    clap = mock.patch.object(scorer, "text_audio", wraps=scorer.text_audio)
    with _spy() as call, clap as text_audio:
        first = SongPipeline(tiny_models).run(request)
    wav = s3.get_object(Bucket=BUCKET, Key=first.audio[0].key)["Body"].read()
    torch.rand(1000)  # another request moves the global RNG (the reference's VAE encode samples it)
    second = SongPipeline(tiny_models).run(request)
    assert s3.get_object(Bucket=BUCKET, Key=second.audio[0].key)["Body"].read() == wav
    assert first.model_dump(exclude={"timings"}) == second.model_dump(exclude={"timings"})
    assert first.persona is not None
    assert first.persona.sha256 == chosen["sha256"] and first.persona.reference_s == 5.0
    assert first.persona.style == "breathy alto"
    assert first.prompt == "pop, upbeat, guitar, breathy alto"
    assert call.call_args.kwargs["prompt"] == ["pop, upbeat, guitar, breathy alto"]
    assert call.call_args.kwargs["reference_audio"].shape == (2, 5 * RATE)
    # A persona's song is measured like any other: mastered, analysed, scored against the styled
    # prompt, given timed lyrics and ranked.
    assert first.mastering is not None and first.best_take == 1
    (take,) = first.takes
    assert take.analysis.loudness_lufs is not None and take.lyrics_timing is not None
    assert take.scores.text_audio is not None and take.scores.lyrics_accuracy is not None
    assert text_audio.call_args.args[2] == "pop, upbeat, guitar, breathy alto"


def test_a_cover_with_a_persona_has_source_and_reference(tiny_models: Models, s3: Any) -> None:
    source = _wav(_clip(seconds=2.0, pitch_hz=330.0))
    s3.put_object(Bucket=BUCKET, Key="uploads/alice/src", Body=source)
    chosen = _put(s3, _wav(_clip(seconds=6.0)), style=None)
    body = make_request(
        "cover",
        prompt="jazz",
        duration_s=2.0,
        source={"bucket": BUCKET, "key": "uploads/alice/src", "duration_s": 2.0},
        persona=chosen,
    )
    with _spy() as call:
        manifest = SongPipeline(tiny_models).run(parse_request(body))
    kwargs = call.call_args.kwargs
    assert kwargs["task_type"] == "cover"
    assert kwargs["src_audio"].shape[-1] >= 2 * RATE
    assert kwargs["reference_audio"].shape == (2, 6 * RATE)
    assert manifest.persona is not None and manifest.persona.sha256 == chosen["sha256"]
    assert manifest.prompt == "jazz"  # no style: the prompt is the request's


def test_a_reference_longer_than_the_window_is_decoded_to_the_window(tiny_models: Models, s3: Any) -> None:
    """Only REFERENCE_WINDOW_S of a clip is decoded, resampled to the engine's rate (44.1 kHz mono in)."""
    mono = _clip(seconds=40.0, rate=44_100)[:, :1]
    loaded = persona.load(Persona.model_validate(_put(s3, _wav(mono, 44_100))), tiny_models.engine)
    assert persona.REFERENCE_WINDOW_S == 30.0
    assert loaded.reference.samples.shape == (30 * RATE, 2) and loaded.reference.sample_rate == RATE
    assert loaded.applied.reference_s == 30.0
    np.testing.assert_array_equal(loaded.reference.samples[:, 0], loaded.reference.samples[:, 1])


def _refused(data: bytes | None, s3: Any, **persona_fields: Any) -> dict[str, Any]:
    chosen = _put(s3, data) if data is not None else _put(s3, b"x")
    if data is None:
        s3.delete_object(Bucket=BUCKET, Key=CLIP_KEY)
    chosen.update(persona_fields)
    return chosen


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: b"RIFF, but not a track" * 50, ValidationFailed, "reference clip could not be decoded"),
        (lambda: _wav(_clip(seconds=2.0)), ValidationFailed, r"2\.00 s long; at least 5 s"),
        (lambda: _wav(np.zeros((5 * RATE, 2), np.float32)), ValidationFailed, "reference clip is silent"),
        (lambda: _wav(_clip(rate=4_000), 4_000), ValidationFailed, "4000 Hz"),
        (lambda: None, SourceMissing, "no longer exists \\(was the persona deleted\\?\\)"),
    ],
    ids=["corrupt", "too-short", "silent", "rate", "deleted"],
)
def test_a_bad_reference_is_refused_before_any_model_runs(
    tiny_models: Models, s3: Any, make: Any, error: type[Exception], match: str
) -> None:
    chosen = _refused(make(), s3)
    request = parse_request(make_request("description", persona=chosen))
    with mock.patch.object(tiny_models.songwriter, "style_tags") as words, pytest.raises(error, match=match):
        SongPipeline(tiny_models).run(request)
    words.assert_not_called()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="scratch/")


def test_a_reference_that_changed_since_the_persona_was_made_is_refused(tiny_models: Models, s3: Any) -> None:
    chosen = _put(s3, _wav(_clip()))
    s3.put_object(Bucket=BUCKET, Key=CLIP_KEY, Body=_wav(_clip(pitch_hz=300.0)))
    with pytest.raises(ValidationFailed, match="does not match the persona's checksum"):
        persona.load(Persona.model_validate(chosen), tiny_models.engine)


def test_an_oversized_reference_is_refused_unread(
    tiny_models: Models, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit lets through the largest window the API can cut: 30 s of 192 kHz float32 stereo WAV.
    assert persona.MAX_REFERENCE_BYTES >= 30 * 192_000 * 2 * 4 + 44
    data = _wav(_clip())
    chosen = Persona.model_validate(_put(s3, data))
    monkeypatch.setattr(persona, "MAX_REFERENCE_BYTES", len(data) - 1)
    with pytest.raises(ValidationFailed, match=f"holds {len(data)} bytes; at most {len(data) - 1}"):
        persona.load(chosen, tiny_models.engine)


def test_personas_need_an_engine_that_takes_a_reference(
    tiny_models: Models, tiny_musicgen: Any, s3: Any
) -> None:
    chosen = _put(s3, _wav(_clip()))
    request = parse_request(make_request("custom_lyrics", persona=chosen))
    with pytest.raises(ValidationFailed, match="personas need the acestep engine"):
        SongPipeline(dataclasses.replace(tiny_models, engine=tiny_musicgen)).run(request)
    job = MusicJob("x", None, 1.0, seed=1, audio_input=AudioInput(TEXT2MUSIC, reference=Audio(_clip(), RATE)))
    with pytest.raises(ValidationFailed, match="personas need"):
        tiny_musicgen.generate(job)


def test_a_bad_reference_over_http_is_a_4xx_and_the_server_stays_up(client: Client, s3: Any) -> None:
    chosen = _put(s3, b"not audio at all" * 100)
    status, body = client.call("POST", "/invocations", make_request("custom_lyrics", persona=chosen))
    assert status == 422 and body["error"]["code"] == "validation_error"
    assert "reference clip could not be decoded" in body["error"]["message"]
    chosen["sha256"] = "not-a-checksum"
    status, body = client.call("POST", "/invocations", make_request("custom_lyrics", persona=chosen))
    assert status == 422 and body["error"]["details"][0]["field"].endswith("persona.sha256")
    assert client.call("GET", "/ping") == (200, {"status": "ok"})


@pytest.mark.parametrize("mode", ["description", "custom_lyrics", "described_lyrics", "cover"])
def test_text_modes_and_cover_take_a_persona(mode: str) -> None:
    chosen = {"reference": {"bucket": BUCKET, "key": CLIP_KEY}, "sha256": "a" * 64, "style": " airy "}
    source = {"bucket": BUCKET, "key": "k", "duration_s": 3.0}
    extra = {"prompt": "x", "source": source} if mode == "cover" else {}
    request = parse_request(make_request(mode, persona=chosen, **extra))
    assert request.persona is not None and request.persona.style == "airy"


def test_the_style_joins_the_prompt_as_tags_once() -> None:
    chosen = Persona.model_validate(
        {"reference": {"bucket": BUCKET, "key": CLIP_KEY}, "sha256": "a" * 64, "style": "Husky Tenor"}
    )
    assert persona.styled_prompt("rock, live", chosen) == "rock, live, Husky Tenor"
    assert persona.styled_prompt("rock, husky tenor", chosen) == "rock, husky tenor"
    assert persona.styled_prompt("", chosen) == "Husky Tenor"
    assert persona.styled_prompt("rock", None) == "rock"
