"""Scores that compare a take with its request, and the order of a song's takes.

- `bpm_error`: |measured - requested| / requested, where half and double the measured tempo also
  count as the tempo (tempo trackers, and listeners, disagree by exactly those factors; MIREX's
  tempo "accuracy 2" forgives them too).
- `key_match`: MIREX's weighted key score (as in mir_eval.key.weighted_score): 1 for the same key,
  0.5 for the key a fifth above in the same mode, 0.3 for the relative major/minor, 0.2 for the
  parallel major/minor, 0 otherwise. Enharmonic spellings are the same key (Bb = A#).
- Rank: the takes of a song ordered by `quality`, best first; ties keep the take order.

    quality = text_audio + lyrics_accuracy + 0.5 * key_match + 0.5 * max(0, 1 - bpm_error / 0.08)

  Each term counts only when present, and every take of a song has the same terms (the same
  request, the same scorers), so a missing term never favours one take over another. Lyrics
  accuracy (0..1) and text-audio agreement (a CLAP cosine, about 0..0.6 in practice) weigh the
  most: they are what listeners notice first (unintelligible words, the wrong style). Tempo and
  key, when the request set them, add up to half a point each; a tempo 8 % or more off earns
  nothing.

Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analysis import Analysis

_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
BPM_TOLERANCE = 0.08  # a tempo this far off earns no tempo credit
KEY_WEIGHT = BPM_WEIGHT = 0.5


@dataclass(frozen=True)
class Scores:
    text_audio: float | None = None  # CLAP cosine between the take and its style prompt
    lyrics_accuracy: float | None = None  # 1 - word (or character) error rate; None: instrumental
    bpm_error: float | None = None  # None: the request set no bpm (or none was measured)
    key_match: float | None = None  # None: the request set no key (or none was measured)


def parse_key(key: str) -> tuple[int, str]:
    """ "F# minor" -> (6, "minor"); the spelling follows schemas.KEY_PATTERN."""
    note, mode = key.split()
    semitone = _SEMITONES[note[0].upper()] + {"#": 1, "b": -1}.get(note[1:], 0)
    return semitone % 12, mode.lower()


def key_match(requested: str, measured: str) -> float:
    ref, ref_mode = parse_key(requested)
    est, est_mode = parse_key(measured)
    if ref_mode == est_mode:
        if est == ref:
            return 1.0
        return 0.5 if (est - ref) % 12 == 7 else 0.0
    relative = (ref - 3) % 12 if ref_mode == "major" else (ref + 3) % 12
    if est == relative:
        return 0.3
    return 0.2 if est == ref else 0.0


def bpm_error(requested: float, measured: float) -> float:
    return min(abs(measured * factor - requested) for factor in (0.5, 1.0, 2.0)) / requested


def request_scores(analysis: Analysis, bpm: float | None, key: str | None) -> Scores:
    """The scores that compare the measurements with the request's tempo and key."""
    return Scores(
        bpm_error=None if bpm is None or analysis.bpm is None else round(bpm_error(bpm, analysis.bpm), 4),
        key_match=None if key is None or analysis.key is None else key_match(key, analysis.key),
    )


def quality(scores: Scores) -> float:
    total = (scores.text_audio or 0.0) + (scores.lyrics_accuracy or 0.0)
    if scores.key_match is not None:
        total += KEY_WEIGHT * scores.key_match
    if scores.bpm_error is not None:
        total += BPM_WEIGHT * max(0.0, 1.0 - scores.bpm_error / BPM_TOLERANCE)
    return total


def ranks(scores: list[Scores]) -> list[int]:
    """The rank (1 = best) of each take, in take order."""
    order = sorted(range(len(scores)), key=lambda i: (-quality(scores[i]), i))
    rank = [0] * len(scores)
    for position, index in enumerate(order, start=1):
        rank[index] = position
    return rank
