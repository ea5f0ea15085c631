"""Every way a job can fail: job `failed` with a readable error, nothing charged, slot released."""

from __future__ import annotations

import json
import os
import uuid

import boto3
import pytest

from lambdas.common.models import JobPersona, JobStatus, JobStep, Reservation
from lambdas.reaper import handler as reaper
from local.execution_events import status_change_event
from local.lambda_routing import LambdaContext
from local.placeholder_model import PlaceholderModel
from tests.workflow.harness import COST, REQUEST, Workflow, lose_transaction_response


def _assert_failed_cleanly(flow: Workflow, job_id: str, user: str, credits: int, code: str) -> None:
    described = flow.wait(job_id)
    assert described["status"] == "FAILED"
    assert described["error"] == code  # the Fail state carries the job's error code
    job = flow.job(job_id)
    assert job.status == JobStatus.FAILED and job.step == JobStep.FAILED
    assert job.error is not None and job.error.code == code and job.error.message
    assert "Traceback" not in job.error.message and "arn:" not in job.error.message
    assert job.charged is False and job.reservation != Reservation.HELD
    assert flow.credits(user) == credits and flow.reserved(user) == 0
    assert flow.slots(user) == set()
    assert flow.media_keys(f"songs/{user}/{job_id}/") == []


def test_a_job_without_a_reserved_price_fails_before_inference(workflow: Workflow) -> None:
    workflow.user("alice", credits=COST - 1)
    job = workflow.submit("alice", reserve=False)
    _assert_failed_cleanly(workflow, job.job_id, "alice", COST - 1, "InsufficientCredits")
    assert workflow.endpoint.invocations == []


def test_endpoint_error_notification(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    response = workflow.endpoint.fail(job.job_id, "ClientError: Received server error (500) from primary")
    assert response == {"batchItemFailures": []}
    _assert_failed_cleanly(workflow, job.job_id, "alice", 5, "GenerationFailed")
    # The endpoint's internal reason stays out of what the user sees.
    assert "500" not in workflow.job(job.job_id).error.message


def test_no_notification_before_the_timeout(workflow: Workflow) -> None:
    workflow.deploy(InferenceTimeoutSeconds=1)
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    _assert_failed_cleanly(workflow, job.job_id, "alice", 5, "GenerationTimeout")

    # The song arrives late: harmless, nothing is published or charged.
    assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}
    assert workflow.job(job.job_id).status == JobStatus.FAILED
    assert workflow.credits("alice") == 5
    assert workflow.media_keys() == []


def test_start_inference_failing(workflow: Workflow) -> None:
    workflow.endpoint.refusal = (400, "ValidationError", "Endpoint song-service-test-music not found.")
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    _assert_failed_cleanly(workflow, job.job_id, "alice", 5, "InternalError")
    failed_tasks = [e for e in workflow.history(job.job_id) if e["type"] == "TaskFailed"]
    assert failed_tasks and failed_tasks[0]["taskFailedEventDetails"]["error"] == "ValidationError"


def test_a_canceled_job_is_reaped_and_never_charged(workflow: Workflow) -> None:
    """The client's cancel: the row becomes `canceled`, the execution is stopped, and the reaper
    (ABORTED) releases the reservation and the slot; a late result is discarded."""
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    _cancel(job.job_id)
    workflow.sfn.stop_execution(executionArn=workflow.execution_arn(job.job_id), error="Canceled")
    assert workflow.wait(job.job_id)["status"] == "ABORTED"
    assert workflow.reserved("alice") == COST  # still held until the reaper runs

    result = reaper.lambda_handler(_status_change_event(workflow, job.job_id), LambdaContext("reaper"))
    assert result["released"] is True and result["changed"] is False
    canceled = workflow.job(job.job_id)
    assert canceled.status == JobStatus.CANCELED and canceled.reservation == Reservation.RELEASED
    assert workflow.credits("alice") == 5 and workflow.reserved("alice") == 0
    assert workflow.slots("alice") == set()
    assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}  # the late song
    assert workflow.job(job.job_id).status == JobStatus.CANCELED and workflow.credits("alice") == 5
    # The reaper may run again (EventBridge delivers at least once): nothing changes.
    again = reaper.lambda_handler(_status_change_event(workflow, job.job_id), LambdaContext("reaper"))
    assert again["released"] is False and workflow.reserved("alice") == 0


def _cancel(job_id: str) -> None:
    """What POST /songs/{id}/cancel does to the row (client-integration issue)."""
    boto3.resource("dynamodb").Table(os.environ["JOBS_TABLE_NAME"]).update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET #s = :canceled",
        ConditionExpression="#s IN (:queued, :processing)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":canceled": "canceled", ":queued": "queued", ":processing": "processing"},
    )


def test_manifest_outside_the_jobs_scratch_is_refused(workflow: Workflow) -> None:
    """Publish copies only this job's scratch objects, whatever the manifest claims."""
    other_id = str(uuid.uuid4())
    workflow.user("alice", credits=5)
    job2 = workflow.submit("alice")
    invocation = workflow.endpoint.wait_for_invocation(job2.job_id)
    s3 = boto3.client("s3")
    bucket = workflow.resources.inference_bucket
    s3.put_object(Bucket=bucket, Key=f"media/{other_id}/audio.wav", Body=b"someone else's song")
    manifest = {
        "job_id": job2.job_id,
        "audio": [
            {
                "format": "wav",
                "bucket": bucket,
                "key": f"media/{other_id}/audio.wav",
                "content_type": "audio/wav",
                "size_bytes": 19,
            }
        ],
        "cover": None,
        "sample_rate": 48000,
        "duration_s": 60.0,
        "lyrics": None,
        "prompt": "x",
        "categories": [],
        "seed": 1,
        "engine": "acestep",
        "timings": {},
    }
    out_bucket, _, out_key = invocation.output_location.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=out_bucket, Key=out_key, Body=json.dumps(manifest).encode())
    workflow.endpoint.notify(invocation, workflow.endpoint.success_message(invocation))
    _assert_failed_cleanly(workflow, job2.job_id, "alice", 5, "GenerationFailed")
    assert s3.get_object(Bucket=bucket, Key=f"media/{other_id}/audio.wav")["Body"].read()


@pytest.mark.parametrize(
    ("variants", "files", "seeds"),
    [
        (2, [1], [5]),  # an image older than variants: one take where two were paid for
        (2, [1], [5, 6]),  # a take without its files
        (1, [1, 3], [5, 6]),  # a take without a seed
    ],
)
def test_a_manifest_whose_takes_do_not_add_up_fails_uncharged(
    workflow: Workflow, variants: int, files: list[int], seeds: list[int]
) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice", {**REQUEST, "variants": variants})
    invocation = workflow.endpoint.wait_for_invocation(job.job_id)
    s3 = boto3.client("s3")
    bucket = workflow.resources.inference_bucket
    audio = []
    for take in files:
        key = f"media/{job.job_id}/audio-{take}.wav"
        s3.put_object(Bucket=bucket, Key=key, Body=b"wav")
        audio.append(
            {
                "format": "wav",
                "take": take,
                "bucket": bucket,
                "key": key,
                "content_type": "audio/wav",
                "size_bytes": 3,
            }
        )
    takes = [_measured_take(k, seed) for k, seed in enumerate(seeds, start=1)]
    manifest = {
        "job_id": job.job_id, "audio": audio, "sample_rate": 48000, "duration_s": 60.0, "prompt": "x",
        "seed": seeds[0], "seeds": seeds, "engine": "acestep", "takes": takes, "best_take": 1,
    }  # fmt: skip
    out_bucket, _, out_key = invocation.output_location.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=out_bucket, Key=out_key, Body=json.dumps(manifest).encode())
    workflow.endpoint.notify(invocation, workflow.endpoint.success_message(invocation))
    _assert_failed_cleanly(workflow, job.job_id, "alice", 5, "GenerationFailed")


def test_duplicate_success_notification_charges_once(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    invocation = workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id)
    workflow.endpoint.notify(invocation, workflow.endpoint.success_message(invocation))
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    # ... and once more after the job finished.
    assert workflow.endpoint.notify(invocation, workflow.endpoint.success_message(invocation)) == {
        "batchItemFailures": []
    }
    assert workflow.credits("alice") == 5 - COST
    assert workflow.job(job.job_id).status == JobStatus.PROCESSED
    charges = [
        e
        for e in workflow.history(job.job_id)
        if e.get("stateEnteredEventDetails", {}).get("name") == "ChargeAndComplete"
    ]
    assert len(charges) == 1


def test_charge_retried_after_a_lost_response_charges_once(workflow: Workflow) -> None:
    """The capture transaction commits but its response is lost: the re-read sees it captured and
    nothing is charged again."""
    from moto.dynamodb.exceptions import TransactionCanceledException

    def lost_response() -> Exception:
        return TransactionCanceledException([("TransactionConflict", "lost response", None)])

    def is_capture(items: list) -> bool:
        return any(
            "reservation = :captured" in op.get("Update", {}).get("UpdateExpression", "") for op in items
        )

    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    with lose_transaction_response(is_capture, lost_response) as lost:
        workflow.endpoint.succeed(job.job_id)
        assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    assert lost == [True]
    assert workflow.credits("alice") == 5 - COST
    assert workflow.job(job.job_id).status == JobStatus.PROCESSED
    assert workflow.slots("alice") == set()
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in workflow.history(job.job_id)
        if "stateEnteredEventDetails" in e
    ]
    assert entered.count("ChargeAndComplete") == 1 and "HandleFailure" not in entered
    assert workflow.reserved("alice") == 0


def test_callback_for_an_unknown_job(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    invocation = workflow.endpoint.wait_for_invocation(job.job_id)
    stray = invocation.__class__(**{**invocation.__dict__, "inference_id": str(uuid.uuid4())})
    assert workflow.endpoint.notify(stray, workflow.endpoint.message(stray)) == {"batchItemFailures": []}
    # The real job is untouched and still completes.
    assert workflow.job(job.job_id).status == JobStatus.PROCESSING
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"


def _status_change_event(flow: Workflow, job_id: str) -> dict:
    """The event the EventBridge rule delivers for the job's ended execution."""
    return status_change_event(flow.sfn.describe_execution(executionArn=flow.execution_arn(job_id)))


def test_aborted_execution_is_reaped(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    queued = workflow.submit("alice")  # waits for alice's only slot
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.sfn.stop_execution(executionArn=workflow.execution_arn(job.job_id), error="Operator")
    assert workflow.wait(job.job_id)["status"] == "ABORTED"
    # The execution could not clean up: the job still looks busy and holds the slot.
    assert workflow.job(job.job_id).status == JobStatus.PROCESSING
    assert workflow.slots("alice") == {job.job_id}

    result = reaper.lambda_handler(_status_change_event(workflow, job.job_id), LambdaContext("reaper"))
    assert result["reaped"] is True and result["code"] == "Cancelled"
    stopped = workflow.job(job.job_id)
    assert stopped.status == JobStatus.FAILED and stopped.error.code == "Cancelled"
    assert stopped.reservation == Reservation.RELEASED
    assert workflow.credits("alice") == 5 and workflow.reserved("alice") == COST  # the queued one

    # The freed slot went to the queued job, and a late notification for the stopped one is ignored.
    workflow.endpoint.wait_for_invocation(queued.job_id)
    assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}
    workflow.endpoint.succeed(queued.job_id)
    assert workflow.wait(queued.job_id)["status"] == "SUCCEEDED"
    assert workflow.job(job.job_id).status == JobStatus.FAILED
    assert workflow.credits("alice") == 5 - COST
    assert workflow.slots("alice") == set()


def test_reaper_leaves_a_cleanly_failed_job_alone(workflow: Workflow) -> None:
    workflow.user("alice", credits=COST - 1)
    job = workflow.submit("alice", reserve=False)
    workflow.wait(job.job_id)
    before = workflow.job(job.job_id)
    result = reaper.lambda_handler(_status_change_event(workflow, job.job_id), LambdaContext("reaper"))
    assert result["changed"] is False and result["code"] == "InsufficientCredits"
    assert workflow.job(job.job_id) == before


STEMS = {
    "mode": "stems",
    "tracks": ["vocals", "drums", "bass", "guitar"],
    "duration_s": 30.0,
    "formats": ["wav"],
    "variants": 1,
    "seed": None,
}


def _only_vocals(manifest: dict, request: dict) -> dict:
    return {**manifest, "audio": [a for a in manifest["audio"] if a["track"] == "vocals"]}


def _bass_for_drums(manifest: dict, request: dict) -> dict:
    swap = {"drums": "keyboard"}
    return {
        **manifest,
        "audio": [{**a, "track": swap.get(a["track"], a["track"])} for a in manifest["audio"]],
    }


def _one_second(manifest: dict, request: dict) -> dict:
    return {**manifest, "duration_s": 1.0}


def _no_mp3(manifest: dict, request: dict) -> dict:
    return {**manifest, "audio": [a for a in manifest["audio"] if a["format"] != "mp3"]}


def _measured_take(take: int, seed: int) -> dict:
    analysis = {"duration_s": 60.0, "loudness_lufs": -14.0, "true_peak_dbtp": -1.0, "bpm": 120.0,
                "key": "C major", "key_confidence": 0.5}  # fmt: skip
    return {"take": take, "seed": seed, "rank": take, "analysis": analysis, "scores": {}, "gain_db": 0.0}


def _no_timed_lyrics(manifest: dict, request: dict) -> dict:
    """Whisper heard take 2 (it has a lyrics accuracy) but its LRC file is not in the manifest."""
    takes = [{**t, "lyrics_timing": None} if t["take"] == 2 else t for t in manifest["takes"]]
    return {**manifest, "takes": takes}


def _lrc_outside_scratch(manifest: dict, request: dict) -> dict:
    take = manifest["takes"][0]
    timing = {**take["lyrics_timing"], "key": "media/another-job/lyrics.lrc"}
    return {**manifest, "takes": [{**take, "lyrics_timing": timing}, *manifest["takes"][1:]]}


def _two_best_takes(manifest: dict, request: dict) -> dict:
    return {**manifest, "takes": [{**t, "rank": 1} for t in manifest["takes"]]}


def _unmeasured(manifest: dict, request: dict) -> dict:
    """An image older than measuring: no takes, no best_take."""
    return {k: v for k, v in manifest.items() if k not in ("takes", "best_take")}


def _stem_on_a_text_song(manifest: dict, request: dict) -> dict:
    stem = {**manifest["audio"][0], "track": "vocals"}
    return {**manifest, "audio": [*manifest["audio"], stem]}


@pytest.mark.parametrize(
    ("request_body", "tamper"),
    [
        (STEMS, _only_vocals),  # 1 of 4 ordered stems
        (STEMS, _bass_for_drums),  # another stem than ordered
        ({**REQUEST, "duration_s": 600}, _one_second),  # 1 s of audio for a 600 s order
        (REQUEST, _no_mp3),  # an ordered format missing
        (REQUEST, _stem_on_a_text_song),  # a stem track on a song from text
        ({**REQUEST, "variants": 2}, _no_timed_lyrics),  # a vocal take heard but not timed
        (REQUEST, _lrc_outside_scratch),  # an LRC file of another job
        ({**REQUEST, "variants": 2}, _two_best_takes),  # a ranking that is not one
        (REQUEST, _unmeasured),  # no measurements at all
    ],
    ids=[
        "one-of-four-stems",
        "other-stems",
        "one-second-of-600",
        "missing-format",
        "stem-on-text-song",
        "missing-lrc",
        "lrc-of-another-job",
        "two-best-takes",
        "unmeasured",
    ],
)
def test_a_result_lacking_anything_ordered_fails_uncharged(workflow: Workflow, request_body, tamper) -> None:
    """Through the real path: the endpoint's manifest -> SNS/SQS notification -> callback ->
    Publish refuses it -> the job fails, nothing charged, nothing published."""
    workflow.user("alice", credits=40)
    job = workflow.submit("alice", request_body)
    assert workflow.reserved("alice") == job.price_credits
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id, model=PlaceholderModel(tamper))
    _assert_failed_cleanly(workflow, job.job_id, "alice", 40, "GenerationFailed")


def test_a_complete_stems_result_is_published_and_charged(workflow: Workflow) -> None:
    workflow.user("alice", credits=40)
    job = workflow.submit("alice", STEMS)
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    done = workflow.job(job.job_id)
    assert done.status == JobStatus.PROCESSED and done.charged
    assert sorted(a.track for a in done.result.audio) == sorted(STEMS["tracks"])
    assert workflow.credits("alice") == 40 - job.price_credits


# --- songs sung with a persona ---------------------------------------------------------------------

PERSONA = JobPersona(
    persona_id=str(uuid.uuid4()),
    bucket="media",
    key="personas/alice/p/reference.wav",
    sha256="ab" * 32,
    style="breathy alto",
)


def test_a_persona_song_sends_the_clip_and_records_what_the_model_heard(workflow: Workflow) -> None:
    workflow.user("alice", credits=40)
    job = workflow.submit("alice", {**REQUEST, "persona_id": PERSONA.persona_id}, persona=PERSONA)
    workflow.endpoint.wait_for_invocation(job.job_id)
    bucket = workflow.resources.inference_bucket
    sent = json.loads(
        boto3.client("s3").get_object(Bucket=bucket, Key=f"requests/{job.job_id}.json")["Body"].read()
    )
    assert sent["persona"] == PERSONA.container_request()
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    done = workflow.job(job.job_id)
    assert done.status == JobStatus.PROCESSED and done.charged
    assert done.result.persona is not None and done.result.persona.sha256 == PERSONA.sha256


def _persona_ignored(manifest: dict, request: dict) -> dict:
    return {**manifest, "persona": None}


def _another_clip(manifest: dict, request: dict) -> dict:
    return {**manifest, "persona": {"sha256": "cd" * 32, "reference_s": 30.0}}


@pytest.mark.parametrize("tamper", [_persona_ignored, _another_clip], ids=["ignored", "another-clip"])
def test_a_result_not_sung_with_the_ordered_persona_fails_uncharged(workflow: Workflow, tamper) -> None:
    """A container older than personas (it ignores the field) or one that heard another clip."""
    workflow.user("alice", credits=40)
    job = workflow.submit("alice", {**REQUEST, "persona_id": PERSONA.persona_id}, persona=PERSONA)
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id, model=PlaceholderModel(tamper))
    _assert_failed_cleanly(workflow, job.job_id, "alice", 40, "GenerationFailed")


def test_a_timed_lyrics_file_missing_from_scratch_fails_uncharged(workflow: Workflow) -> None:
    """The manifest names an LRC file the container never wrote: the copy fails, nothing of the song
    stays published (the audio already copied is removed) and nothing is charged."""

    def lose_the_lrc(manifest: dict, request: dict) -> dict:
        timing = manifest["takes"][0]["lyrics_timing"]
        boto3.client("s3").delete_object(Bucket=timing["bucket"], Key=timing["key"])
        return manifest

    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id, model=PlaceholderModel(lose_the_lrc))
    _assert_failed_cleanly(workflow, job.job_id, "alice", 5, "GenerationFailed")
