from __future__ import annotations

from typing import Any

from song_model.categories import GENRES, pick_categories
from song_model.songwriter import clean_lyrics, clean_tags


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
