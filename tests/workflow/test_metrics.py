"""The business metrics each outcome records (names are the dashboard's contract)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.common import business_metrics as bm
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

    by_name = {r["name"] + r.get("step", ""): r for r in records}
    steps = ["lyrics", "music", "cover", "upload", "total"]
    assert sorted(r["name"] for r in records) == sorted(
        [
            bm.SONGS_PROCESSED.name,
            bm.CREDITS_CHARGED.name,
            *[bm.GENERATION_SECONDS.name] * len(steps),
            bm.QUEUE_WAIT_SECONDS.name,
            bm.END_TO_END_SECONDS.name,
        ]
    )
    assert by_name[bm.SONGS_PROCESSED.name] == {
        "name": "SongsProcessed",
        "value": 1,
        "stage": "test",
        "service": "song-service",  # Powertools adds the service dimension to every metric
        "mode": "description",
    }
    assert by_name[bm.CREDITS_CHARGED.name]["value"] == COST
    assert by_name["GenerationSecondsmusic"]["value"] == 20.0
    assert by_name["GenerationSecondstotal"]["value"] == 22.6
    assert (
        0 <= by_name[bm.QUEUE_WAIT_SECONDS.name]["value"] <= by_name[bm.END_TO_END_SECONDS.name]["value"] < 30
    )
    assert all(r["stage"] == "test" for r in records)


def test_a_failure_is_counted_once_by_error_code(workflow: Workflow, capsys: pytest.CaptureFixture) -> None:
    from lambdas.reaper import handler as reaper
    from local.lambda_routing import LambdaContext

    workflow.user("alice", credits=COST - 1)
    job = workflow.submit("alice", reserve=False)  # a row without a reserved price fails at once
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


def test_every_emitted_metric_is_in_the_catalog(workflow: Workflow, capsys: pytest.CaptureFixture) -> None:
    """What the code emits is what the dashboard graphs (tests/infra/test_monitoring.py)."""
    workflow.user("alice", credits=COST)
    done = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(done.job_id)
    workflow.endpoint.succeed(done.job_id)
    workflow.wait(done.job_id)
    broke = workflow.submit("alice", reserve=False)  # no credits left: nothing reserved
    workflow.wait(broke.job_id)
    catalog = {name: set(dims) for name, dims in bm.dimension_sets()}
    records = _emitted(capsys.readouterr().out)
    assert {r["name"] for r in records} >= {"SongsProcessed", "SongsFailed", "GenerationSeconds"}
    for record in records:
        dims = set(record) - {"name", "value"}
        assert catalog[record["name"]] == dims, record


def _lose_the_first_announcement(monkeypatch: pytest.MonkeyPatch, status: Any) -> list[str]:
    """PutEvents fails the first time a job in `status` is announced; the list records each try."""
    from lambdas.common import lifecycle

    sent: list[str] = []

    def flaky_announce(_events, job):  # type: ignore[no-untyped-def]
        if job.status == status:
            sent.append("sent" if sent else "lost")
            if len(sent) == 1:
                raise lifecycle.EventNotSent(f"{status.value}: InternalFailure")
        return None

    monkeypatch.setattr(lifecycle.LifecycleEvents, "announce", flaky_announce)
    return sent


def test_a_failure_whose_event_was_not_sent_is_announced_and_counted_on_the_retry(
    workflow: Workflow, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PutEvents fails once in HandleFailure: its retry no longer gets `changed` from mark_failed,
    yet must still send song.failed and count the failure (once)."""
    from lambdas.common.models import JobStatus

    sent = _lose_the_first_announcement(monkeypatch, JobStatus.FAILED)
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.fail(job.job_id, "the model failed")
    assert workflow.wait(job.job_id)["status"] == "FAILED"
    assert sent == ["lost", "sent"]
    assert workflow.reserved("alice") == 0 and workflow.credits("alice") == 5
    failed = [r for r in _emitted(capsys.readouterr().out) if r["name"] == bm.SONGS_FAILED.name]
    assert [r["error_code"] for r in failed] == ["GenerationFailed"]


def test_a_processed_song_whose_event_was_not_sent_is_still_counted_once(
    workflow: Workflow, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.common.models import JobStatus

    sent = _lose_the_first_announcement(monkeypatch, JobStatus.PROCESSED)
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    assert sent == ["lost", "sent"]
    processed = [r for r in _emitted(capsys.readouterr().out) if r["name"] == bm.SONGS_PROCESSED.name]
    assert len(processed) == 1
