"""POST /songs/{id}/cancel: queued|processing -> canceled, the execution stopped, repeats harmless."""

from __future__ import annotations

import boto3
import pytest

from lambdas.common.models import JobStatus
from lambdas.common.repositories import JobRepository

from .helpers import put_job, put_processed_job


def _execution_status(job_id: str) -> str:
    sfn = boto3.client("stepfunctions")
    arn = JobRepository().get(job_id).execution_arn
    return sfn.describe_execution(executionArn=arn)["status"]


def test_cancel_a_queued_song_stops_its_execution(api, song_body) -> None:
    job_id = api.post_song(song_body).body["job_id"]
    result = api.call("POST", f"/songs/{job_id}/cancel")
    assert result.status == 200, result.body
    assert result.body["status"] == "canceled"
    assert result.body["error"]["code"] == "Canceled"
    assert JobRepository().get(job_id).status is JobStatus.CANCELED
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
    if final is JobStatus.PROCESSED:
        job = put_processed_job("alice", aws_env.media_bucket)
    else:
        job = put_job("alice", final)
    result = api.call("POST", f"/songs/{job.job_id}/cancel")
    assert (result.status, result.error_code) == (409, "JobStateConflict")
    assert result.body["error"]["details"] == {"status": final.value}
    assert JobRepository().get(job.job_id).status is final


def test_another_users_song_is_not_found(api) -> None:
    job = put_job("bob")
    assert api.call("POST", f"/songs/{job.job_id}/cancel").status == 404
    assert JobRepository().get(job.job_id).status is JobStatus.QUEUED


def test_a_canceled_song_can_be_deleted(api, song_body) -> None:
    job_id = api.post_song(song_body).body["job_id"]
    api.call("POST", f"/songs/{job_id}/cancel")
    assert api.call("DELETE", f"/songs/{job_id}").status == 204
