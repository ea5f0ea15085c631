"""CLAP and Whisper running for real: transformers' classes built small from configs (tiny profile)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pytest
from signals import RATE, click_track, stereo
from song_model.scoring import CLAP_WINDOW_S, MAX_CLAP_WINDOWS, clap_windows
from transformers import ClapModel, WhisperForConditionalGeneration


def _spy(model: type, method: str) -> Any:
    """Counts the calls of a model's method and lets them run."""
    return mock.patch.object(model, method, autospec=True, side_effect=getattr(model, method))


@pytest.fixture(scope="module")
def takes() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [stereo(click_track(120, 4.0)), (0.1 * rng.standard_normal((4 * RATE, 2))).astype(np.float32)]


def test_text_audio_is_a_clap_cosine_per_take(tiny_models: Any, takes: list[np.ndarray]) -> None:
    scorer = tiny_models.scorer
    assert isinstance(scorer.clap, ClapModel)
    with _spy(ClapModel, "get_audio_features") as audio:
        scores = scorer.text_audio(takes, RATE, "pop, upbeat, guitar")
    assert audio.call_count == 1  # both takes' windows in one batch
    assert len(scores) == 2 and all(-1.0 <= s <= 1.0 for s in scores)
    assert scores[0] != scores[1]
    assert scorer.text_audio(takes, RATE, "pop, upbeat, guitar") == scores  # deterministic
    assert scorer.text_audio(takes, RATE, "dark ambient drone") != scores  # the prompt matters


def test_clap_sees_up_to_twelve_windows_spread_over_the_song() -> None:
    rate = 1000  # the window is CLAP_WINDOW_S at any rate; a low one keeps the arrays small
    window = round(CLAP_WINDOW_S * rate)
    song = np.arange(600 * rate, dtype=np.float32)
    windows = clap_windows(song, rate)
    assert len(windows) == MAX_CLAP_WINDOWS and all(len(w) == window for w in windows)
    assert windows[0][0] == 0 and windows[-1][-1] == song[-1]
    assert [w[0] for w in clap_windows(song[: 25 * rate], rate)] == [0, 7500, 15000]
    assert len(clap_windows(song[: 3 * rate], rate)[0]) == 3 * rate  # shorter than a window: CLAP pads it


def test_whisper_transcribes_every_take_with_word_times(tiny_models: Any, takes: list[np.ndarray]) -> None:
    scorer = tiny_models.scorer
    assert isinstance(scorer.whisper, WhisperForConditionalGeneration)
    with _spy(WhisperForConditionalGeneration, "generate") as generate:
        words = scorer.transcribe(takes, RATE, "en")
    assert generate.call_count == 1  # one batch
    kwargs = generate.call_args.kwargs
    assert kwargs["language"] == "en" and kwargs["return_token_timestamps"] and kwargs["return_timestamps"]
    assert len(words) == 2
    for take in words:
        assert take, "random weights still emit tokens"
        assert all(0.0 <= w.start_s <= w.end_s <= 4.5 for w in take)
        assert all(isinstance(w.text, str) for w in take)


def test_an_unknown_language_is_left_for_whisper_to_detect(tiny_models: Any, takes: list[np.ndarray]) -> None:
    with _spy(WhisperForConditionalGeneration, "generate") as generate:
        tiny_models.scorer.transcribe(takes[:1], RATE, "xx")
    assert "language" not in generate.call_args.kwargs


def test_only_the_decoder_keeps_attention_weights(tiny_models: Any, takes: list[np.ndarray]) -> None:
    """Word timestamps need the decoder's cross-attention; the encoder's own weights (2.9 GB a take
    at Whisper turbo's size) are never kept."""
    from transformers.models.whisper.modeling_whisper import WhisperDecoder, WhisperEncoder

    with (
        mock.patch.object(
            WhisperEncoder, "forward", autospec=True, side_effect=WhisperEncoder.forward
        ) as encoder,
        mock.patch.object(
            WhisperDecoder, "forward", autospec=True, side_effect=WhisperDecoder.forward
        ) as decoder,
    ):
        tiny_models.scorer.transcribe(takes[:1], RATE, "en")
    assert encoder.call_count >= 1 and all(
        c.kwargs.get("output_attentions") is False for c in encoder.call_args_list
    )
    assert any(c.kwargs.get("output_attentions") for c in decoder.call_args_list)
