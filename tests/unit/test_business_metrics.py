"""Business metrics are EMF lines on stdout, and none at all where metrics are disabled."""

from __future__ import annotations

import json

import pytest

from lambdas.common import business_metrics


def test_a_data_point_is_one_emf_line(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    business_metrics.emit(business_metrics.CREDITS_CHARGED, 2, stage="dev")
    record = json.loads(capsys.readouterr().out)
    assert record["CreditsCharged"] == [2.0]
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "stage"]]


def test_disabled_metrics_print_nothing(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the local stack sets unless --verbose, and the benchmarks (their stdout is the report).
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    business_metrics.emit(business_metrics.CREDITS_CHARGED, 2, stage="dev")
    business_metrics.emit_generation_timings({"music_s": 1.0, "total_s": 2.0}, stage="dev")
    assert capsys.readouterr().out == ""
