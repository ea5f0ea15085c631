"""The service's business metrics, in one place (an ops dashboard is built on these names).

Namespace from POWERTOOLS_METRICS_NAMESPACE; every metric carries the default dimension `stage`.
Dimensions stay low-cardinality: `mode` (3 values) and `error_code` (the closed set in
lambdas/workflow/outcome.py).
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .settings import get_settings

SONGS_PROCESSED = "SongsProcessed"  # Count, dimension mode
SONGS_FAILED = "SongsFailed"  # Count, dimension error_code
CREDITS_CHARGED = "CreditsCharged"  # Count
LYRICS_SECONDS = "LyricsSeconds"  # manifest timings.lyrics_s
MUSIC_SECONDS = "MusicSeconds"  # manifest timings.music_s
COVER_SECONDS = "CoverSeconds"  # manifest timings.cover_s
GENERATION_SECONDS = "GenerationSeconds"  # manifest timings.total_s (inside the container)
QUEUE_WAIT_SECONDS = "QueueWaitSeconds"  # created -> processing (waiting for the user's slot)
END_TO_END_SECONDS = "EndToEndSeconds"  # created -> processed

ALL_METRICS = (
    SONGS_PROCESSED,
    SONGS_FAILED,
    CREDITS_CHARGED,
    LYRICS_SECONDS,
    MUSIC_SECONDS,
    COVER_SECONDS,
    GENERATION_SECONDS,
    QUEUE_WAIT_SECONDS,
    END_TO_END_SECONDS,
)

_TIMING_METRICS = {
    "lyrics_s": LYRICS_SECONDS,
    "music_s": MUSIC_SECONDS,
    "cover_s": COVER_SECONDS,
    "total_s": GENERATION_SECONDS,
}


def emit(name: str, value: float, unit: MetricUnit, **dimensions: str) -> None:
    """One EMF record per call: metrics with different dimensions cannot share a record."""
    with single_metric(
        name=name, unit=unit, value=value, default_dimensions={"stage": get_settings().stage_name}
    ) as metric:
        for key, dim_value in dimensions.items():
            metric.add_dimension(name=key, value=dim_value)


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta = _parse(end) - _parse(start)
    return max(delta.total_seconds(), 0.0)


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def record_processed(
    *,
    mode: str,
    credits: int,
    timings: dict[str, float],
    queue_wait_s: float | None,
    end_to_end_s: float | None,
) -> None:
    emit(SONGS_PROCESSED, 1, MetricUnit.Count, mode=mode)
    emit(CREDITS_CHARGED, credits, MetricUnit.Count)
    for key, name in _TIMING_METRICS.items():
        if key in timings:
            emit(name, timings[key], MetricUnit.Seconds)
    if queue_wait_s is not None:
        emit(QUEUE_WAIT_SECONDS, queue_wait_s, MetricUnit.Seconds)
    if end_to_end_s is not None:
        emit(END_TO_END_SECONDS, end_to_end_s, MetricUnit.Seconds)


def record_failed(*, error_code: str, queue_wait_s: float | None) -> None:
    emit(SONGS_FAILED, 1, MetricUnit.Count, error_code=error_code)
    if queue_wait_s is not None:
        emit(QUEUE_WAIT_SECONDS, queue_wait_s, MetricUnit.Seconds)
