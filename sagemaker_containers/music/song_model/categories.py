"""The genre taxonomy the LLM classifies songs into, and how many labels a song gets.

Categories come from a fixed list rather than free text so that the catalog can filter on them;
the LLM ranks every label by likelihood (see songwriter.Songwriter.categories).
"""

from __future__ import annotations

GENRES: tuple[str, ...] = (
    "pop",
    "rock",
    "hip hop",
    "r&b",
    "soul",
    "funk",
    "jazz",
    "blues",
    "country",
    "folk",
    "acoustic",
    "electronic",
    "dance",
    "house",
    "techno",
    "ambient",
    "lo-fi",
    "classical",
    "cinematic",
    "metal",
    "punk",
    "indie",
    "reggae",
    "latin",
    "k-pop",
    "gospel",
    "disco",
    "trap",
)

MIN_CATEGORIES = 3
MAX_CATEGORIES = 5
# A 4th or 5th label is kept only when the model gives it at least this share of the probability.
EXTRA_LABEL_MIN_PROB = 0.15


def pick_categories(probabilities: dict[str, float]) -> list[str]:
    """The 3 most likely labels, plus up to 2 more that are likely enough; most likely first."""
    ranked = sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
    chosen = [label for label, _ in ranked[:MIN_CATEGORIES]]
    for label, prob in ranked[MIN_CATEGORIES:MAX_CATEGORIES]:
        if prob >= EXTRA_LABEL_MIN_PROB:
            chosen.append(label)
    return chosen
