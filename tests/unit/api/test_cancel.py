"""POST /songs/{id}/cancel: queued|processing -> canceled, the execution stopped, repeats harmless."""

from __future__ import annotations

import boto3
import pytest

from lambdas.common.models import JobStatus
from tests import factories
from tests.factories import put_job, put_processed_job


def _execution_status(job_id: str) -> str:
    sfn = boto3.client("stepfunctions")
    arn = factories.jobs().get(job_id).execution_arn
    return sfn.describe_execution(executionArn=arn)["status"]


def test_cancel_a_queued_song_stops_its_execution(api, song_body) -> None:
    job_id = api.post_song(song_body).body["job_id"]
    result = api.call("POST", f"/songs/{job_id}/cancel")
    assert result.status == 200, result.body
    assert result.body["status"] == "canceled"
    assert result.body["error"]["code"] == "Canceled"
    assert factories.jobs().get(job_id).status is JobStatus.CANCELED
    assert _execution_status(job_id) == "ABORTED"


def test_cancel_is_harmless_to_repeat(api, song_body) -> None:
    job_id = api.post_song(song_body).body["job_id"]
    first = api.call("POST", f"/songs/{job_id}/cancel")
    second = api.call("POST", f"/songs/{job_id}/cancel")
    assert (first.status, second.status) == (200, 200)
    assert second.body["status"] == "canceled"
    assert second.body["updated_at"] == first.body["updated_at"]


def test_cancel_a_processing_song(api) -> None:
    job = put_job("alice", JobStatus.PROCESSING)
    result = api.call("POST", f"/songs/{job.job_id}/cancel")
    assert result.status == 200 and result.body["status"] == "canceled"


@pytest.mark.parametrize("final", [JobStatus.PROCESSED, JobStatus.FAILED])
def test_a_finished_song_cannot_be_canceled(api, aws_env, final) -> None:
    job = put_processed_job("alice") if final is JobStatus.PROCESSED else put_job("alice", final)
    result = api.call("POST", f"/songs/{job.job_id}/cancel")
    assert (result.status, result.error_code) == (409, "JobStateConflict")
    assert result.body["error"]["details"] == {"status": final.value}
    assert factories.jobs().get(job.job_id).status is final


def test_another_users_song_is_not_found(api) -> None:
    job = put_job("bob")
    assert api.call("POST", f"/songs/{job.job_id}/cancel").status == 404
    assert factories.jobs().get(job.job_id).status is JobStatus.QUEUED


def test_a_canceled_song_can_be_deleted(api, song_body) -> None:
    job_id = api.post_song(song_body).body["job_id"]
    api.call("POST", f"/songs/{job_id}/cancel")
    assert api.call("DELETE", f"/songs/{job_id}").status == 204


class Bus:
    """Stands in for LifecycleEvents.announce: records each event, fails the next `failures` puts."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, JobStatus]] = []
        self.failures = 0

    def announce(self, job) -> str:
        from lambdas.common.lifecycle import EventNotSent

        if self.failures:
            self.failures -= 1
            raise EventNotSent("throttled")
        self.sent.append((job.job_id, job.status))
        return "song.canceled"


@pytest.fixture
def bus(monkeypatch) -> Bus:
    from lambdas.common.lifecycle import LifecycleEvents

    fake = Bus()
    monkeypatch.setattr(LifecycleEvents, "announce", lambda _self, job: fake.announce(job))
    return fake


def test_a_cancel_whose_event_failed_announces_on_retry(api, bus) -> None:
    job = put_job("alice", JobStatus.PROCESSING)
    bus.failures = 1
    first = api.call("POST", f"/songs/{job.job_id}/cancel")
    assert (first.status, first.error_code) == (503, "ServiceUnavailable")
    assert factories.jobs().get(job.job_id).status is JobStatus.CANCELED
    retried = api.call("POST", f"/songs/{job.job_id}/cancel")
    assert retried.status == 200, retried.body
    assert bus.sent == [(job.job_id, JobStatus.CANCELED)]


def test_the_execution_is_stopped_before_the_cancel_is_announced(api, bus, monkeypatch) -> None:
    from botocore.exceptions import ClientError

    from lambdas.api.services.executions import Executions

    real_stop, stops = Executions.stop, []

    def stop_failing_once(self, job, cause):
        stops.append(job.job_id)
        if len(stops) == 1:
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "x"}}, "StopExecution")
        real_stop(self, job, cause)

    monkeypatch.setattr(Executions, "stop", stop_failing_once)
    job = put_job("alice", JobStatus.PROCESSING)
    failed = api.call("POST", f"/songs/{job.job_id}/cancel")
    assert (failed.status, failed.error_code) == (503, "ServiceUnavailable")
    assert bus.sent == []  # nothing announced while the execution may still run
    assert api.call("POST", f"/songs/{job.job_id}/cancel").status == 200
    assert bus.sent == [(job.job_id, JobStatus.CANCELED)]
    assert stops == [job.job_id] * 2
