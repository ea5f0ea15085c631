"""The requested lyrics against what a speech recogniser heard: accuracy and timed lines (LRC).

The lyrics (section tags such as `[verse]` dropped) and the recognised words are normalised the same
way (Unicode NFKC, lower case, punctuation removed), then aligned by edit distance (jiwer, the usual
word-error-rate library): the error rate is (substitutions + deletions + insertions) / the lyrics'
words, the accuracy 1 - that rate (at least 0). Languages written without spaces between words
(Chinese, Japanese, Thai, ...) are compared by characters instead (the character error rate).

Every lyric word the alignment pairs with a recognised word (a hit or a substitution: the singer
sang something there) takes that word's time; a line starts at its first timed word. Lines with no
timed word (the recogniser missed them) get a time interpolated from their neighbours by word
position, so the LRC file always has every line in order; `TimedLine.measured` says which is which.

Torch-free (jiwer + the standard library).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

# A line that is only a section tag: "[verse]", "[Chorus 2]", "[instrumental break]".
_TAG_LINE = re.compile(r"^\s*\[[^\]]*\]\s*$")
_NOT_WORD = re.compile(r"[^\w\s']|_")
_EDGE_APOSTROPHES = re.compile(r"(^|\s)'+|'+(\s|$)")
# Scripts written without spaces between words: compared character by character.
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f]"
)
# A pause longer than this after a line's last word clears the display (an empty LRC line).
LRC_GAP_S = 5.0


@dataclass(frozen=True)
class HeardWord:
    """One recognised word and when it was sung (seconds from the start of the take)."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TimedLine:
    text: str
    start_s: float
    end_s: float | None  # the end of its last timed word; None when interpolated
    measured: bool  # False: no word of the line was heard, the time is interpolated


@dataclass(frozen=True)
class LyricsMatch:
    accuracy: float  # 1 - error rate, clipped to 0..1
    error_rate: float
    unit: str  # "word" or "character"
    lines: list[TimedLine]


def lyric_lines(lyrics: str) -> list[str]:
    """The sung lines: non-empty, without section tag lines."""
    return [line.strip() for line in lyrics.splitlines() if line.strip() and not _TAG_LINE.match(line)]


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _EDGE_APOSTROPHES.sub(" ", _NOT_WORD.sub(" ", text))
    return " ".join(text.split())


def by_characters(text: str) -> bool:
    """True when most letters are from a script written without spaces between words."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(_UNSPACED.match(c)) for c in letters) > len(letters) / 2


def tokens(text: str, characters: bool) -> list[str]:
    normalized = normalize(text)
    return [c for c in normalized if not c.isspace()] if characters else normalized.split()


def _heard_tokens(words: list[HeardWord], characters: bool) -> list[HeardWord]:
    """The recognised words as alignment units; in character mode a word's time is spread evenly
    over its characters."""
    units: list[HeardWord] = []
    for word in words:
        parts = tokens(word.text, characters)
        span = max(word.end_s - word.start_s, 0.0) / max(len(parts), 1)
        units.extend(
            HeardWord(part, word.start_s + i * span, word.start_s + (i + 1) * span)
            for i, part in enumerate(parts)
        )
    return units


def _pairs(reference: list[str], heard: list[str]) -> tuple[float, list[tuple[int, int]]]:
    """(error rate, aligned (reference index, heard index) pairs) by jiwer's edit-distance alignment."""
    import jiwer

    if not heard:
        return 1.0, []
    # Tokens hold no spaces, so jiwer's default transform splits them back into exactly these lists.
    output = jiwer.process_words(" ".join(reference), " ".join(heard))
    pairs = [
        (chunk.ref_start_idx + k, chunk.hyp_start_idx + k)
        for chunk in output.alignments[0]
        if chunk.type in ("equal", "substitute")
        for k in range(chunk.ref_end_idx - chunk.ref_start_idx)
    ]
    return float(output.wer), pairs


def match(lyrics: str, words: list[HeardWord]) -> LyricsMatch | None:
    """Accuracy and line timings of `lyrics` against the recognised `words`; None when the lyrics
    hold no word to compare."""
    lines = lyric_lines(lyrics)
    characters = by_characters(" ".join(lines))
    reference: list[str] = []
    line_of: list[int] = []
    for index, line in enumerate(lines):
        line_tokens = tokens(line, characters)
        reference.extend(line_tokens)
        line_of.extend([index] * len(line_tokens))
    if not reference:
        return None
    heard = _heard_tokens(words, characters)
    error_rate, pairs = _pairs(reference, [unit.text for unit in heard])
    timed = _line_times(lines, line_of, pairs, heard)
    return LyricsMatch(
        accuracy=round(max(0.0, 1.0 - error_rate), 4),
        error_rate=round(error_rate, 4),
        unit="character" if characters else "word",
        lines=timed,
    )


def _line_times(
    lines: list[str], line_of: list[int], pairs: list[tuple[int, int]], heard: list[HeardWord]
) -> list[TimedLine]:
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    anchors: list[tuple[int, float]] = []  # (reference token index, time)
    for ref, hyp in pairs:
        line, word = line_of[ref], heard[hyp]
        starts[line] = min(starts.get(line, word.start_s), word.start_s)
        ends[line] = max(ends.get(line, word.end_s), word.end_s)
        anchors.append((ref, word.start_s))
    first_token = {line: line_of.index(line) for line in set(line_of)}
    timed: list[TimedLine] = []
    latest = 0.0
    for index, text in enumerate(lines):
        if index in starts:
            start, end, measured = starts[index], ends[index], True
        elif anchors and index in first_token:
            positions, times = zip(*anchors, strict=True)
            start = float(np.interp(first_token[index], positions, times))
            end, measured = None, False
        else:
            start, end, measured = latest, None, False
        start = max(start, latest)  # lines stay in order even where the alignment crossed
        latest = start
        timed.append(
            TimedLine(text, round(start, 2), None if end is None else round(max(end, start), 2), measured)
        )
    return timed


def _stamp(seconds: float) -> str:
    centiseconds = max(0, round(seconds * 100))
    minutes, rest = divmod(centiseconds, 6000)
    return f"[{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}]"


def to_lrc(lines: list[TimedLine], duration_s: float, title: str | None = None) -> str:
    """An LRC file: `[mm:ss.xx]line` per lyric line in order, an empty timed line where the singing
    pauses for more than LRC_GAP_S (and after the last line), and `ti`/`length` header tags."""
    out: list[str] = []
    if title:
        out.append(f"[ti:{' '.join(title.replace('[', '(').replace(']', ')').split())}]")
    minutes, seconds = divmod(round(duration_s), 60)
    out.append(f"[length:{minutes:02d}:{seconds:02d}]")
    for index, line in enumerate(lines):
        out.append(f"{_stamp(line.start_s)}{line.text}")
        following = lines[index + 1].start_s if index + 1 < len(lines) else duration_s + LRC_GAP_S + 1
        if line.end_s is not None and following - line.end_s > LRC_GAP_S:
            out.append(_stamp(line.end_s))
    return "\n".join(out) + "\n"
