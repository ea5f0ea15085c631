"""The price of a song: credits per started minute of rendered audio, per take; a transcription to
MIDI (needing no GPU) is a flat price per request."""

from __future__ import annotations

import math
from typing import Any

from .models import TRANSCRIBE_MODE
from .transcription import wants_midi

SECONDS_PER_MINUTE = 60


def price_credits(duration_s: float, takes: int, credits_per_minute: int) -> int:
    """A 61-second song costs two minutes; every take (variant) is rendered and paid for."""
    if duration_s <= 0 or takes < 1 or credits_per_minute < 1:
        raise ValueError("duration_s, takes and credits_per_minute must be positive")
    started_minutes = math.ceil(duration_s / SECONDS_PER_MINUTE)
    return started_minutes * takes * credits_per_minute


def request_price(request: dict[str, Any], credits_per_minute: int, *, transcribe_credits: int) -> int:
    """The price of an accepted song request (its JSON form, defaults filled in).

    Audio-in modes: the API stores the rendered length in `duration_s` (lambdas/api/sources.py),
    and stems render the whole length once per track. MIDI costs `transcribe_credits` per request,
    whatever its length and tracks: alone (mode transcribe) or on top of stems (formats "mid").
    """
    if transcribe_credits < 1:
        raise ValueError("transcribe_credits must be positive")
    midi = transcribe_credits if wants_midi(request) else 0
    if request.get("mode") == TRANSCRIBE_MODE:
        return midi
    takes = int(request.get("variants") or 1) * len(request.get("tracks") or [None])
    return price_credits(float(request["duration_s"]), takes, credits_per_minute) + midi
