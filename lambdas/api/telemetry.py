"""Business metrics of the API. Dashboards and alarms are built on these names: keep them stable.

Each metric goes out as its own EMF document (single_metric) so its dimension (`mode`, `reason`)
does not leak onto other metrics of the same invocation; `stage` is the default dimension.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from lambdas.common.observability import metrics

SONGS_REQUESTED = "SongsRequested"
SONGS_REJECTED = "SongsRejected"


def song_requested(mode: str) -> None:
    _count(SONGS_REQUESTED, "mode", mode)


def song_rejected(reason: str) -> None:
    _count(SONGS_REJECTED, "reason", reason)


def _count(name: str, dimension: str, value: str) -> None:
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=value)
