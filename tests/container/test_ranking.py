"""Tempo and key adherence scores and the order of a song's takes."""

from __future__ import annotations

import pytest
from song_model.analysis import Analysis
from song_model.ranking import Scores, bpm_error, key_match, quality, ranks, request_scores


@pytest.mark.parametrize(
    ("requested", "measured", "score"),
    [
        ("A minor", "A minor", 1.0),
        ("Bb major", "A# major", 1.0),  # enharmonic
        ("C major", "G major", 0.5),  # a fifth above
        ("C major", "F major", 0.0),  # a fifth below is not MIREX's fifth
        ("C major", "A minor", 0.3),  # relative
        ("A minor", "C major", 0.3),
        ("C major", "C minor", 0.2),  # parallel
        ("C major", "D major", 0.0),
    ],
)
def test_key_match_is_the_mirex_weighted_score(requested: str, measured: str, score: float) -> None:
    assert key_match(requested, measured) == score


def test_bpm_error_is_relative_and_forgives_half_and_double_tempo() -> None:
    assert bpm_error(120, 126) == pytest.approx(0.05)
    assert bpm_error(120, 60.6) == pytest.approx(0.01)
    assert bpm_error(90, 181) == pytest.approx(0.5 / 90)


def test_request_scores_only_where_the_request_set_tempo_or_key() -> None:
    measured = Analysis(30.0, -14.0, -1.0, 118.0, "A minor", 0.8)
    assert request_scores(measured, None, None) == Scores()
    scores = request_scores(measured, 120, "C major")
    assert scores.bpm_error == pytest.approx(2 / 120, abs=1e-4) and scores.key_match == 0.3
    unmeasured = Analysis(30.0, None, None, None, None, None)
    assert request_scores(unmeasured, 120, "C major") == Scores()


def test_takes_are_ranked_by_the_documented_combination() -> None:
    takes = [
        Scores(text_audio=0.30, lyrics_accuracy=0.70, bpm_error=0.00, key_match=0.0),  # 1.0 + 0.5
        Scores(text_audio=0.35, lyrics_accuracy=0.90, bpm_error=0.10, key_match=0.3),  # 1.25 + 0.15
        Scores(text_audio=0.20, lyrics_accuracy=0.95, bpm_error=0.04, key_match=1.0),  # 1.15 + 0.5 + 0.25
    ]
    assert [quality(s) for s in takes] == pytest.approx([1.5, 1.40, 1.90])
    assert ranks(takes) == [2, 3, 1]


def test_ties_and_unscored_takes_keep_the_take_order() -> None:
    assert ranks([Scores(), Scores(), Scores()]) == [1, 2, 3]
    assert ranks([Scores(text_audio=0.2), Scores(text_audio=0.2), Scores(text_audio=0.3)]) == [2, 3, 1]
