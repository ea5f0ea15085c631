"""The business metrics each outcome records (names are the dashboard's contract)."""

from __future__ import annotations

import json

import pytest

from lambdas.common import metrics
from tests.workflow.harness import COST, Workflow


def _emitted(output: str) -> list[dict]:
    """EMF records Powertools printed: {metric name: value, dimension: value, ...}."""
    records = []
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        record = json.loads(line)
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "SongService"
        for metric in directive["Metrics"]:
            dims = {d: record[d] for d in directive["Dimensions"][0]}
            value = record[metric["Name"]]
            records.append(
                {"name": metric["Name"], "value": value[0] if isinstance(value, list) else value, **dims}
            )
    return records


def test_a_processed_song_records_its_metrics_once(workflow: Workflow, capsys: pytest.CaptureFixture) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id)
    workflow.wait(job.job_id)
    records = _emitted(capsys.readouterr().out)

    by_name = {r["name"]: r for r in records}
    assert sorted(r["name"] for r in records) == sorted(
        [
            metrics.SONGS_PROCESSED,
            metrics.CREDITS_CHARGED,
            metrics.LYRICS_SECONDS,
            metrics.MUSIC_SECONDS,
            metrics.COVER_SECONDS,
            metrics.GENERATION_SECONDS,
            metrics.QUEUE_WAIT_SECONDS,
            metrics.END_TO_END_SECONDS,
        ]
    )
    assert by_name[metrics.SONGS_PROCESSED] == {
        "name": "SongsProcessed",
        "value": 1,
        "stage": "test",
        "service": "song-service",  # Powertools adds the service dimension to every metric
        "mode": "description",
    }
    assert by_name[metrics.CREDITS_CHARGED]["value"] == COST
    assert by_name[metrics.MUSIC_SECONDS]["value"] == 20.0
    assert by_name[metrics.GENERATION_SECONDS]["value"] == 22.2
    assert (
        0 <= by_name[metrics.QUEUE_WAIT_SECONDS]["value"] <= by_name[metrics.END_TO_END_SECONDS]["value"] < 30
    )
    assert all(r["stage"] == "test" for r in records)


def test_a_failure_is_counted_once_by_error_code(workflow: Workflow, capsys: pytest.CaptureFixture) -> None:
    from lambdas.reaper import handler as reaper
    from local.lambda_routing import LambdaContext

    workflow.user("alice", credits=COST - 1)
    job = workflow.submit("alice")
    workflow.wait(job.job_id)
    event = {
        "detail": {
            "executionArn": workflow.execution_arn(job.job_id),
            "stateMachineArn": workflow.state_machine_arn,
            "name": job.job_id,
            "status": "FAILED",
            "input": json.dumps({"job_id": job.job_id, "user_id": "alice"}),
        }
    }
    reaper.lambda_handler(event, LambdaContext("reaper"))  # runs after every failed execution
    records = _emitted(capsys.readouterr().out)
    assert records == [
        {
            "name": "SongsFailed",
            "value": 1,
            "stage": "test",
            "service": "song-service",
            "error_code": "InsufficientCredits",
        }
    ]
