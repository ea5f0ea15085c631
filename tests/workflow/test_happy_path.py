"""One song from queued to processed through the real ASL and handlers."""

from __future__ import annotations

import json

import boto3
import pytest

from lambdas.common.models import JobStatus, JobStep, Reservation
from tests.workflow.harness import COST, REQUEST, Workflow


def _states(flow: Workflow, job_id: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in flow.history(job_id)
        if "stateEnteredEventDetails" in event
    ]


def test_variants_publish_every_take_and_charge_each(workflow: Workflow) -> None:
    workflow.user("alice", credits=10)
    job = workflow.submit("alice", {**REQUEST, "seed": 7, "variants": 3, "formats": ["wav"]})
    workflow.endpoint.wait_for_invocation(job.job_id)
    assert workflow.reserved("alice") == 3 * COST
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"

    prefix = f"songs/alice/{job.job_id}/"
    assert workflow.media_keys() == [
        prefix + name
        for name in (
            "audio-take2.wav",
            "audio-take3.wav",
            "audio.wav",
            "cover.png",
            "lyrics-take2.lrc",
            "lyrics-take3.lrc",
            "lyrics.lrc",
        )
    ]
    result = workflow.job(job.job_id).result
    assert result is not None and result.seed == 7 and result.seeds == [7, 8, 9]
    assert [(a.take, a.key) for a in result.audio] == [
        (1, f"{prefix}audio.wav"),
        (2, f"{prefix}audio-take2.wav"),
        (3, f"{prefix}audio-take3.wav"),
    ]
    # Each take's measurements are kept; the placeholder ranks the last take first.
    assert [(m.take, m.rank, m.lyrics_timing_key) for m in result.takes] == [
        (1, 3, f"{prefix}lyrics.lrc"),
        (2, 2, f"{prefix}lyrics-take2.lrc"),
        (3, 1, f"{prefix}lyrics-take3.lrc"),
    ]
    assert result.best_take == 3 and result.takes[0].analysis.key == "A minor"
    assert result.takes[2].scores.lyrics_accuracy == pytest.approx(0.83)
    lrc = boto3.client("s3").head_object(Bucket=workflow.resources.media_bucket, Key=f"{prefix}lyrics.lrc")
    assert lrc["ContentType"] == "text/plain; charset=utf-8"
    assert workflow.credits("alice") == 10 - 3 * COST and workflow.reserved("alice") == 0


def test_song_is_published_charged_once_and_slot_freed(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")

    invocation = workflow.endpoint.wait_for_invocation(job.job_id)
    # While the endpoint works: processing, holding the slot, the request in the inference bucket.
    running = workflow.job(job.job_id)
    assert running.status == JobStatus.PROCESSING and running.task_token
    assert running.reservation == Reservation.HELD and running.price_credits == COST
    assert workflow.reserved("alice") == COST and workflow.credits("alice") == 5  # held, not charged
    assert workflow.slots("alice") == {job.job_id}
    request = json.loads(
        boto3.client("s3")
        .get_object(Bucket=workflow.resources.inference_bucket, Key=f"requests/{job.job_id}.json")["Body"]
        .read()
    )
    assert request["job_id"] == job.job_id and request["mode"] == "description"
    assert request["output"] == {
        "bucket": workflow.resources.inference_bucket,
        "prefix": f"media/{job.job_id}/",
    }
    assert (
        invocation.input_location == f"s3://{workflow.resources.inference_bucket}/requests/{job.job_id}.json"
    )

    assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"

    done = workflow.job(job.job_id)
    assert done.status == JobStatus.PROCESSED and done.step == JobStep.COMPLETED
    assert done.charged is True and done.reservation == Reservation.CAPTURED and done.price_credits == COST
    assert done.task_token is None and done.error is None
    assert workflow.credits("alice") == 5 - COST and workflow.reserved("alice") == 0
    assert workflow.slots("alice") == set()

    prefix = f"songs/alice/{job.job_id}/"
    assert workflow.media_keys() == [
        prefix + name for name in ("audio.mp3", "audio.wav", "cover.png", "lyrics.lrc")
    ]
    assert workflow.scratch_keys(f"media/{job.job_id}/") == []
    assert workflow.scratch_keys("requests/") == []
    result = done.result
    assert result is not None
    assert [(a.format, a.key) for a in result.audio] == [
        ("wav", f"{prefix}audio.wav"),
        ("mp3", f"{prefix}audio.mp3"),
    ]
    assert result.cover_key == f"{prefix}cover.png"
    assert result.lyrics and result.prompt and result.categories
    assert result.sample_rate == 48_000 and result.duration_s == 60.0 and result.seed == 1234
    assert result.timings["total_s"] == 22.6 and result.timings["measure_s"] == 0.4
    media = boto3.client("s3").head_object(Bucket=workflow.resources.media_bucket, Key=f"{prefix}audio.mp3")
    assert media["ContentType"] == "audio/mpeg"

    assert _states(workflow, job.job_id) == [
        "Init",
        "AcquireSlot",
        "CheckReservation",
        "IsReserved",
        "MarkProcessing",
        "Route",
        "Generate",
        "Publish",
        "WantsMidi",
        "ChargeAndComplete",
        "Done",
    ]
