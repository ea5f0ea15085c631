"""The service's business metrics: the one place that names them, their units and dimensions.

The catalog is plain data (the request modes are read from the pydantic request models) so the CDK
app can import it without the Lambda runtime dependencies.
Every data point is emitted as its own CloudWatch EMF record with the dimensions
{service, stage, *spec.dimensions}, so the dashboard (stacks/monitoring.py) can address each
metric by exactly that dimension set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from .contract import METRICS_NAMESPACE as DEFAULT_NAMESPACE
from .contract import SERVICE
from .models import SONG_MODES


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str  # a CloudWatch unit name
    dimensions: tuple[str, ...] = ()


SONGS_REQUESTED = MetricSpec("SongsRequested", "Count", ("mode",))
SONGS_REJECTED = MetricSpec("SongsRejected", "Count", ("reason",))
SONGS_PROCESSED = MetricSpec("SongsProcessed", "Count", ("mode",))
SONGS_FAILED = MetricSpec("SongsFailed", "Count", ("error_code",))
CREDITS_CHARGED = MetricSpec("CreditsCharged", "Count")
GENERATION_SECONDS = MetricSpec("GenerationSeconds", "Seconds", ("step",))
QUEUE_WAIT_SECONDS = MetricSpec("QueueWaitSeconds", "Seconds")
END_TO_END_SECONDS = MetricSpec("EndToEndSeconds", "Seconds")

ALL_METRICS = (
    SONGS_REQUESTED,
    SONGS_REJECTED,
    SONGS_PROCESSED,
    SONGS_FAILED,
    CREDITS_CHARGED,
    GENERATION_SECONDS,
    QUEUE_WAIT_SECONDS,
    END_TO_END_SECONDS,
)
# Bounded values for the dimensions, so the dashboard can list them and cardinality stays low.
MODES = SONG_MODES
GENERATION_STEPS = ("lyrics", "music", "cover", "upload", "total")


def namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)


def emit(spec: MetricSpec, value: float, *, stage: str, **dimensions: str) -> None:
    """Emit one data point of the deployment `stage`. The dimension names must be exactly the spec's."""
    if set(dimensions) != set(spec.dimensions):
        raise ValueError(f"{spec.name} takes dimensions {spec.dimensions}, got {sorted(dimensions)}")
    from aws_lambda_powertools.metrics import single_metric  # runtime-only dependency
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    # Powertools' Metrics honours POWERTOOLS_METRICS_DISABLED, its single_metric prints regardless;
    # the local stack (unless --verbose) and the benchmarks set it. Never set when deployed.
    if is_metrics_disabled():
        return

    default_dimensions = {"service": SERVICE, "stage": stage}
    with single_metric(
        name=spec.name,
        unit=spec.unit,
        value=value,
        namespace=namespace(),
        default_dimensions=default_dimensions,
    ) as metric:
        for name, dim_value in dimensions.items():
            metric.add_dimension(name=name, value=str(dim_value))


def emit_generation_timings(timings: dict[str, float], *, stage: str) -> None:
    """Per-step seconds from the container's manifest (`lyrics_s`, `music_s`, ...)."""
    for step in GENERATION_STEPS:
        seconds = timings.get(f"{step}_s")
        if seconds is not None:
            emit(GENERATION_SECONDS, float(seconds), stage=stage, step=step)


def dimension_sets() -> Iterator[tuple[str, tuple[str, ...]]]:
    """(metric name, full dimension names) for every business metric; used by the dashboard tests."""
    for spec in ALL_METRICS:
        yield spec.name, ("service", "stage", *spec.dimensions)


# ------------------------------------------------------------- what the API and the workflow record


class BusinessMetrics:
    """The data points of one deployment stage, as the API and the workflow record them."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def song_requested(self, mode: str) -> None:
        emit(SONGS_REQUESTED, 1, stage=self.stage, mode=mode)

    def song_rejected(self, reason: str) -> None:
        emit(SONGS_REJECTED, 1, stage=self.stage, reason=reason)

    def song_processed(
        self,
        *,
        mode: str,
        credits: int,
        timings: dict[str, float],
        queue_wait_s: float | None,
        end_to_end_s: float | None,
    ) -> None:
        emit(SONGS_PROCESSED, 1, stage=self.stage, mode=mode)
        emit(CREDITS_CHARGED, credits, stage=self.stage)
        emit_generation_timings(timings, stage=self.stage)
        if queue_wait_s is not None:
            emit(QUEUE_WAIT_SECONDS, queue_wait_s, stage=self.stage)
        if end_to_end_s is not None:
            emit(END_TO_END_SECONDS, end_to_end_s, stage=self.stage)

    def song_failed(self, *, error_code: str, queue_wait_s: float | None) -> None:
        emit(SONGS_FAILED, 1, stage=self.stage, error_code=error_code)
        if queue_wait_s is not None:
            emit(QUEUE_WAIT_SECONDS, queue_wait_s, stage=self.stage)


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds between two ISO-8601 timestamps of a job row (None when either is missing)."""
    if not start or not end:
        return None
    delta = _parse(end) - _parse(start)
    return max(delta.total_seconds(), 0.0)


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
