from __future__ import annotations

from typing import Any

import pytest
import torch
from song_model.categories import GENRES, pick_categories
from song_model.errors import ModelError
from song_model.songwriter import LYRICS_ATTEMPTS, Songwriter, clean_lyrics, clean_tags


def test_clean_tags_takes_the_first_line_and_normalises() -> None:
    answer = "Tags: Pop, Upbeat!, 120 BPM, pop, female vocals\nHere you go"
    assert clean_tags(answer) == ["pop", "upbeat", "120 bpm", "female vocals"]


def test_clean_tags_of_nothing_is_empty() -> None:
    assert clean_tags("  \n ,, ") == []


def test_clean_lyrics_normalises_section_headers_and_drops_chatter() -> None:
    answer = "Here are your lyrics:\n\n**Verse 1:**\nSun on the road\n(Chorus)\nLa la\n[Bridge]\nOh\n```"
    assert clean_lyrics(answer) == "[verse]\nSun on the road\n[chorus]\nLa la\n[bridge]\nOh"


def test_clean_lyrics_without_headers_becomes_one_verse() -> None:
    assert clean_lyrics("line one\nline two\x07\ufffd") == "[verse]\nline one\nline two"
    assert clean_lyrics("  ") == ""


def test_pick_categories_keeps_three_to_five() -> None:
    flat = {g: 1 / len(GENRES) for g in GENRES}
    assert len(pick_categories(flat)) == 3
    peaked = {"pop": 0.2, "rock": 0.2, "jazz": 0.2, "funk": 0.2, "soul": 0.16, "trap": 0.04}
    # Ties go alphabetically, so the choice is deterministic.
    assert pick_categories(peaked) == ["funk", "jazz", "pop", "rock", "soul"]
    assert pick_categories({"pop": 0.9, "rock": 0.05, "jazz": 0.03, "funk": 0.02}) == ["pop", "rock", "jazz"]


def test_tiny_songwriter_writes_tagged_lyrics_and_known_categories(tiny_models: Any) -> None:
    writer = tiny_models.songwriter
    lyrics = writer.lyrics("a road trip", "pop", duration_s=8, seed=1)
    assert lyrics.startswith("[")
    assert lyrics == writer.lyrics("a road trip", "pop", duration_s=8, seed=1)
    categories = writer.categories("pop, upbeat", "a road trip")
    assert 3 <= len(categories) <= 5
    assert set(categories) <= set(GENRES)
    assert len(set(categories)) == len(categories)


def test_instrumental_style_tags_say_so(tiny_models: Any) -> None:
    assert "instrumental" in tiny_models.songwriter.style_tags("calm piano", instrumental=True, seed=3)


def _writer_answering(answers: list[str], tiny_models: Any) -> tuple[Songwriter, list[int]]:
    """The tiny songwriter with its sampling replaced by scripted answers; records the seeds."""
    writer = Songwriter(tiny_models.songwriter.model, tiny_models.songwriter.tokenizer, torch.device("cpu"))
    seeds: list[int] = []

    def chat(user: str, seed: int, max_new_tokens: int) -> str:
        seeds.append(seed)
        return answers[len(seeds) - 1]

    writer._chat = chat  # type: ignore[method-assign]
    return writer, seeds


def test_an_empty_lyrics_draw_is_sampled_again_with_the_next_seed(tiny_models: Any) -> None:
    writer, seeds = _writer_answering(["", "  ", "la la la"], tiny_models)
    assert writer.lyrics("rain", "folk", duration_s=10, seed=7) == "[verse]\nla la la"
    assert seeds == [7, 8, 9]


def test_lyrics_fail_with_a_model_error_after_every_draw_was_empty(tiny_models: Any) -> None:
    writer, seeds = _writer_answering([""] * LYRICS_ATTEMPTS, tiny_models)
    with pytest.raises(ModelError, match="empty lyrics"):
        writer.lyrics("rain", "folk", duration_s=10, seed=7)
    assert len(seeds) == LYRICS_ATTEMPTS
