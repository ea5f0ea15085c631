"""Lyrics against recognised words: accuracy, line timings and the LRC file."""

from __future__ import annotations

import re

import pytest
from song_model.lyrics_timing import HeardWord, TimedLine, lyric_lines, match, to_lrc

LYRICS = "[verse]\nSun on the road,\nwind in my hair!\n\n[chorus]\nWe're driving home tonight\n"
LRC_LINE = re.compile(r"^\[(\d{2}):(\d{2})\.(\d{2})\](.*)$")


def heard(*words: tuple[str, float]) -> list[HeardWord]:
    return [HeardWord(text, start, start + 0.3) for text, start in words]


def test_section_tags_are_not_sung() -> None:
    assert lyric_lines(LYRICS) == ["Sun on the road,", "wind in my hair!", "We're driving home tonight"]


def test_a_perfect_transcript_scores_one_and_times_every_line() -> None:
    words = heard(
        ("sun", 1.0), ("on", 1.3), ("the", 1.6), ("road", 1.9),
        ("Wind", 4.0), ("in", 4.3), ("my", 4.6), ("hair.", 4.9),
        ("we're", 12.0), ("driving", 12.4), ("home", 12.8), ("tonight", 13.2),
    )  # fmt: skip
    result = match(LYRICS, words)
    assert result is not None
    assert (result.accuracy, result.error_rate, result.unit) == (1.0, 0.0, "word")
    assert [(line.start_s, line.end_s, line.measured) for line in result.lines] == [
        (1.0, 2.2, True), (4.0, 5.2, True), (12.0, 13.5, True),
    ]  # fmt: skip


def test_errors_lower_the_accuracy_by_the_word_error_rate() -> None:
    """12 words; 1 substitution, 1 deletion, 1 insertion: WER 3/12."""
    words = heard(
        ("sun", 1.0), ("in", 1.3), ("the", 1.6), ("road", 1.9), ("yeah", 2.2),
        ("wind", 4.0), ("in", 4.3), ("hair", 4.9),
        ("we're", 12.0), ("driving", 12.4), ("home", 12.8), ("tonight", 13.2),
    )  # fmt: skip
    result = match(LYRICS, words)
    assert result is not None and result.error_rate == pytest.approx(0.25) and result.accuracy == 0.75


def test_an_unheard_line_is_placed_between_its_neighbours() -> None:
    words = heard(("sun", 1.0), ("on", 1.3), ("the", 1.6), ("road", 1.9), ("we're", 12.0), ("driving", 12.4))
    result = match(LYRICS, words)
    assert result is not None
    middle = result.lines[1]
    assert not middle.measured and middle.end_s is None
    assert result.lines[0].start_s < middle.start_s < result.lines[2].start_s


def test_nothing_heard_is_zero_accuracy_and_lines_at_the_start() -> None:
    result = match(LYRICS, [])
    assert result is not None and result.accuracy == 0.0
    assert all(line.start_s == 0.0 and not line.measured for line in result.lines)
    assert match("[verse]\n[chorus]\n", heard(("la", 1.0))) is None  # no words to compare


def test_unspaced_scripts_are_compared_by_characters() -> None:
    lyrics = "[verse]\n夜空の星\n君に会いたい"
    words = [HeardWord("夜空の", 2.0, 2.6), HeardWord("星", 2.6, 3.0), HeardWord("君に会いた", 5.0, 6.0)]
    result = match(lyrics, words)
    assert result is not None and result.unit == "character"
    assert result.error_rate == pytest.approx(1 / 10)  # one of ten characters missing
    assert [line.start_s for line in result.lines] == [2.0, 5.0]


def test_the_lrc_file_has_ordered_centisecond_stamps_and_clears_long_pauses() -> None:
    lines = [
        TimedLine("Sun on the road,", 1.0, 2.2, True),
        TimedLine("wind in my hair!", 4.0, 5.2, True),
        TimedLine("We're driving home tonight", 62.345, 64.0, True),
    ]
    text = to_lrc(lines, duration_s=70.0, title="Road [demo] trip")
    rows = text.splitlines()
    assert rows[:2] == ["[ti:Road (demo) trip]", "[length:01:10]"]
    stamps = [LRC_LINE.match(row) for row in rows[2:]]
    assert all(stamps), rows
    assert [(m.group(4)) for m in stamps] == [
        "Sun on the road,",
        "wind in my hair!",
        "",
        "We're driving home tonight",
        "",
    ]
    times = [int(m.group(1)) * 60 + int(m.group(2)) + int(m.group(3)) / 100 for m in stamps]
    assert times == sorted(times) and times == [1.0, 4.0, 5.2, 62.34, 64.0]
    assert text.endswith("\n")
