"""Runtime settings: one reader for every function, environment names as the stacks set them."""

from __future__ import annotations

import pytest

from lambdas.common import business_metrics, settings
from lambdas.common.models import SONG_MODES, utc_timestamp
from lambdas.workflow.slots import queue_horizon


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    settings.get_settings.cache_clear()
    yield monkeypatch.setenv
    settings.get_settings.cache_clear()


def test_workflow_timeouts_come_from_the_environment(fresh_settings) -> None:
    fresh_settings("INFERENCE_TIMEOUT_SECONDS", "600")
    fresh_settings("WORKFLOW_TIMEOUT_SECONDS", "3600")
    current = settings.get_settings()
    assert (current.inference_timeout_s, current.max_execution_s) == (600, 3600)


def test_queue_horizon_is_the_execution_timeout_ago(fresh_settings) -> None:
    from datetime import UTC, datetime, timedelta

    fresh_settings("WORKFLOW_TIMEOUT_SECONDS", "3600")
    before = utc_timestamp(datetime.now(UTC) - timedelta(hours=1))
    horizon = queue_horizon()
    after = utc_timestamp(datetime.now(UTC) - timedelta(hours=1))
    assert before <= horizon <= after and horizon.endswith("Z")


def test_metric_modes_are_the_request_modes() -> None:
    # business_metrics keeps its own copy so the CDK app can import it without pydantic.
    assert business_metrics.MODES == SONG_MODES
