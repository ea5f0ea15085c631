"""Business metrics of the API (names and dimensions live in lambdas/common/business_metrics.py)."""

from __future__ import annotations

from lambdas.common import business_metrics as bm


def song_requested(mode: str) -> None:
    bm.emit(bm.SONGS_REQUESTED, 1, mode=mode)


def song_rejected(reason: str) -> None:
    bm.emit(bm.SONGS_REJECTED, 1, reason=reason)
