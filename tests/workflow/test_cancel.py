"""Cancel through the API's service against the real ASL: never charged, slot freed, late result dropped."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from lambdas.api import handler as api
from lambdas.api.services.executions import Executions
from lambdas.api.services.songs import SongService
from lambdas.common.models import JobStatus
from lambdas.common.settings import ApiSettings
from lambdas.publish_song import handler as publish_song
from lambdas.reaper import handler as reaper
from lambdas.workflow.errors import JobNotRunnable
from local.execution_events import status_change_event
from local.lambda_routing import LambdaContext
from tests import factories
from tests.workflow.harness import COST, Workflow


def _songs(flow: Workflow) -> SongService:
    """The API's song service, as the API function builds it, for this workflow's state machine."""
    settings = ApiSettings.from_environment({**os.environ, "STATE_MACHINE_ARN": flow.state_machine_arn})
    return api.build(settings).services.songs


def _cancel(flow: Workflow, user_id: str, job_id: str) -> dict:
    return _songs(flow).cancel_song(user_id, job_id).model_dump(mode="json")


def _reap(flow: Workflow, job_id: str) -> dict:
    """What the EventBridge rule does with the ABORTED execution (the local stack's watcher too)."""
    described = flow.sfn.describe_execution(executionArn=flow.execution_arn(job_id))
    assert described["status"] == "ABORTED"
    return reaper.lambda_handler(status_change_event(described), LambdaContext("reaper"))


def test_cancel_while_processing_never_charges_and_frees_the_slot(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    waiting = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)

    assert _cancel(workflow, "alice", job.job_id)["status"] == "canceled"
    assert workflow.wait(job.job_id, timeout_s=5)["status"] == "ABORTED"
    assert _reap(workflow, job.job_id)["changed"] is False  # the row stays canceled
    assert workflow.job(job.job_id).status == JobStatus.CANCELED

    # The GPU finishes the canceled song anyway: the result is discarded and its scratch removed.
    assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}
    assert workflow.scratch_keys(f"media/{job.job_id}/") == []
    assert workflow.job(job.job_id).status == JobStatus.CANCELED
    assert workflow.job(job.job_id).charged is False

    # The user's next song got the freed slot and is charged once.
    workflow.endpoint.wait_for_invocation(waiting.job_id)
    workflow.endpoint.succeed(waiting.job_id)
    assert workflow.wait(waiting.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 5 - COST
    assert workflow.slots("alice") == set()
    assert workflow.media_keys(f"songs/alice/{job.job_id}/") == []


def test_cancel_while_queued(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    running = workflow.submit("alice")
    queued = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(running.job_id)

    _cancel(workflow, "alice", queued.job_id)
    assert workflow.wait(queued.job_id, timeout_s=5)["status"] == "ABORTED"
    _reap(workflow, queued.job_id)
    assert workflow.slots("alice") == {running.job_id}

    workflow.endpoint.succeed(running.job_id)
    assert workflow.wait(running.job_id)["status"] == "SUCCEEDED"
    assert workflow.job(queued.job_id).status == JobStatus.CANCELED
    assert [i.inference_id for i in workflow.endpoint.invocations] == [running.job_id]
    assert workflow.credits("alice") == 5 - COST


def test_publish_refuses_a_canceled_job(workflow: Workflow) -> None:
    """A cancel that lands between the GPU result and the charge: nothing is published."""
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    _cancel(workflow, "alice", job.job_id)
    workflow.endpoint.render(workflow.endpoint.invocation(job.job_id))
    _, _, bucket, key = workflow.endpoint.invocation(job.job_id).output_location.split("/", 3)
    manifest = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    with pytest.raises(JobNotRunnable):
        publish_song.cold_start.dependencies().publish(job.job_id, "alice", manifest)
    assert workflow.media_keys(f"songs/alice/{job.job_id}/") == []


def test_a_late_result_ends_the_wait_when_the_stop_did_not_go_through(
    workflow: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is canceled but StopExecution failed: the result that arrives must fail the Generate
    task now, so HandleFailure frees the slot and the reservation before the inference timeout."""
    from botocore.exceptions import ClientError

    from lambdas.common.errors import ServiceUnavailable

    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)

    def stop_fails(self, job, cause):  # type: ignore[no-untyped-def]
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StopExecution")

    monkeypatch.setattr(Executions, "stop", stop_fails)
    with pytest.raises(ServiceUnavailable):
        _cancel(workflow, "alice", job.job_id)
    assert workflow.job(job.job_id).status == JobStatus.CANCELED

    assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}
    assert workflow.wait(job.job_id, timeout_s=10)["status"] == "FAILED"
    assert (
        workflow.job(job.job_id).status == JobStatus.CANCELED and workflow.job(job.job_id).task_token is None
    )
    assert workflow.reserved("alice") == 0 and workflow.credits("alice") == 5
    assert workflow.slots("alice") == set()
    assert workflow.scratch_keys(f"media/{job.job_id}/") == []


def _ready_upload(flow: Workflow, user_id: str) -> str:
    """A checked upload as the form and the upload check leave it (row ready, object tagged)."""
    import uuid

    from lambdas.common.uploads import new_upload

    upload = new_upload(user_id, str(uuid.uuid4()), "src.wav", "audio/wav", 100, expiry_days=7)
    uploads = factories.uploads()
    uploads.create(upload)
    boto3.client("s3").put_object(
        Bucket=flow.resources.uploads_bucket, Key=upload.key, Body=b"x" * 100, Tagging="retention=unused"
    )
    uploads.mark_ready(upload.upload_id, fmt="wav", duration_s=20.0, sample_rate=48_000, channels=2, etag="e")
    return upload.upload_id


def _request_cover(flow: Workflow, user_id: str, upload_id: str) -> str:
    from pydantic import TypeAdapter

    from lambdas.common.models import SongRequest

    request = TypeAdapter(SongRequest).validate_python(
        {"mode": "cover", "source": {"upload_id": upload_id}, "prompt": "jazz trio", "formats": ["wav"]}
    )
    return _songs(flow).request_song(user_id, request).job_id


def _retention(flow: Workflow, upload_id: str) -> tuple:
    row = factories.uploads().find(upload_id)
    tags = boto3.client("s3").get_object_tagging(Bucket=flow.resources.uploads_bucket, Key=row.key)["TagSet"]
    return row.expires_at, row.songs, row.active_jobs, tags[0]["Value"]


def test_a_canceled_cover_leaves_its_upload_to_expire(workflow: Workflow) -> None:
    """Canceled while the GPU works (tests/unit/uploads cancels one before its workflow runs):
    the reaper ends it, and the upload keeps its expiry and its `unused` tag."""
    workflow.user("alice", credits=5)
    upload_id = _ready_upload(workflow, "alice")
    expires_at, *_ = _retention(workflow, upload_id)
    job_id = _request_cover(workflow, "alice", upload_id)
    workflow.endpoint.wait_for_invocation(job_id)
    _cancel(workflow, "alice", job_id)
    assert workflow.wait(job_id, timeout_s=5)["status"] == "ABORTED"
    _reap(workflow, job_id)
    assert workflow.job(job_id).status == JobStatus.CANCELED
    assert _retention(workflow, upload_id) == (expires_at, set(), {job_id}, "unused")


def test_a_processed_cover_keeps_its_upload(workflow: Workflow) -> None:
    """Through the real finalize step: the song is charged, then the upload leaves the lifecycle
    rule (no expiry, tag `used`) while the song exists."""
    workflow.user("alice", credits=5)
    upload_id = _ready_upload(workflow, "alice")
    job_id = _request_cover(workflow, "alice", upload_id)
    workflow.endpoint.wait_for_invocation(job_id)
    workflow.endpoint.succeed(job_id)
    assert workflow.wait(job_id)["status"] == "SUCCEEDED"
    assert workflow.job(job_id).status == JobStatus.PROCESSED
    assert _retention(workflow, upload_id) == (None, {job_id}, set(), "used")
