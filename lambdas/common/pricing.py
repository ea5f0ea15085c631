"""The price of a song: credits per started minute of rendered audio, per take."""

from __future__ import annotations

import math
from typing import Any

SECONDS_PER_MINUTE = 60


def price_credits(duration_s: float, takes: int, credits_per_minute: int) -> int:
    """A 61-second song costs two minutes; every take (variant) is rendered and paid for."""
    if duration_s <= 0 or takes < 1 or credits_per_minute < 1:
        raise ValueError("duration_s, takes and credits_per_minute must be positive")
    started_minutes = math.ceil(duration_s / SECONDS_PER_MINUTE)
    return started_minutes * takes * credits_per_minute


def request_price(request: dict[str, Any], credits_per_minute: int) -> int:
    """The price of an accepted song request (its JSON form, defaults filled in)."""
    return price_credits(float(request["duration_s"]), int(request.get("variants") or 1), credits_per_minute)
