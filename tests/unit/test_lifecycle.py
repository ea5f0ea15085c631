"""Lifecycle events: one helper puts them on the bus; the webhook rule passes songs with a webhook."""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import pytest

from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.models import Job, JobStatus
from tests import factories


@dataclass(frozen=True)
class Bus:
    events: LifecycleEvents
    webhook_queue_url: str


@pytest.fixture
def bus(aws_env) -> Bus:
    """The stack's bus and the webhook rule's queue (the test environment creates them)."""
    queue = boto3.client("sqs").get_queue_url(QueueName=aws_env.webhook_queue)["QueueUrl"]
    return Bus(LifecycleEvents(aws_env.event_bus), queue)


def _job(status: JobStatus, webhook: bool = True) -> Job:
    request = {"mode": "description", "description": "a calm song", "title": "Rain"}
    webhook_url = "https://hooks.example.com/songs" if webhook else None
    result = factories.new_result() if status is JobStatus.PROCESSED else None
    return factories.new_job(status=status, request=request, webhook_url=webhook_url, result=result)


def _queued_events(bus) -> list[dict]:
    messages = boto3.client("sqs").receive_message(QueueUrl=bus.webhook_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_processed_song_is_announced_without_urls(bus) -> None:
    job = _job(JobStatus.PROCESSED)
    assert bus.events.announce(job) == "song.processed"
    (event,) = _queued_events(bus)
    assert (event["source"], event["detail-type"]) == ("song-service", "song.processed")
    body = event["detail"]
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "song.processed"
    data = body["data"]
    assert (data["job_id"], data["status"], data["seed"], data["title"]) == (
        job.job_id,
        "processed",
        7,
        "Rain",
    )
    assert "audio_url" not in data and "songs/u/j" not in json.dumps(data)  # no URLs, no keys


def test_a_processed_songs_event_carries_each_takes_rank_analysis_and_scores(bus) -> None:
    take = {"duration_s": 10.0, "loudness_lufs": -14.0, "true_peak_dbtp": -1.0, "bpm": 120.0,
            "key": "C major", "key_confidence": 0.8}  # fmt: skip
    measured = [
        {"take": 1, "rank": 2, "analysis": take, "scores": {"text_audio": 0.2, "lyrics_accuracy": 0.5},
         "lyrics_timing_key": "songs/u/j/lyrics.lrc"},
        {"take": 2, "rank": 1, "analysis": take, "scores": {"text_audio": 0.4, "lyrics_accuracy": 0.9},
         "lyrics_timing_key": "songs/u/j/lyrics-take2.lrc"},
    ]  # fmt: skip
    audio = [{"format": "wav", "key": f"songs/u/j/audio{s}.wav", "take": k} for k, s in ((1, ""), (2, "-t2"))]
    result = factories.new_result(audio=audio, seeds=[7, 8], takes=measured, best_take=2)
    job = _job(JobStatus.PROCESSED).model_copy(update={"result": result})
    bus.events.announce(job)
    (event,) = _queued_events(bus)
    data = event["detail"]["data"]
    assert data["best_take"] == 2
    assert [(t["take"], t["seed"], t["rank"], t["scores"]["lyrics_accuracy"]) for t in data["takes"]] == [
        (1, 7, 2, 0.5),
        (2, 8, 1, 0.9),
    ]
    assert data["takes"][1]["analysis"]["key"] == "C major"
    assert "songs/u/j" not in json.dumps(data)  # the LRC keys stay private too


@pytest.mark.parametrize(
    ("status", "event_type"),
    [
        (JobStatus.PROCESSING, "song.processing"),
        (JobStatus.FAILED, "song.failed"),
        (JobStatus.CANCELED, "song.canceled"),
    ],
)
def test_each_state_change_has_its_type(bus, status, event_type) -> None:
    assert bus.events.announce(_job(status)) == event_type
    assert [e["detail"]["type"] for e in _queued_events(bus)] == [event_type]


def test_queued_is_not_an_event_and_songs_without_a_webhook_skip_the_sender(bus) -> None:
    assert bus.events.announce(_job(JobStatus.QUEUED)) is None
    assert bus.events.announce(_job(JobStatus.PROCESSED, webhook=False)) == "song.processed"
    assert _queued_events(bus) == []  # on the bus, but the webhook rule does not match it


def test_a_stored_null_webhook_url_does_not_reach_the_sender(bus) -> None:
    """The API stores the request with `"webhook_url": null`; EventBridge (and moto) count a null
    leaf as existing, so the rule must match the URL's scheme, not its presence."""
    job = _job(JobStatus.PROCESSED, webhook=False)
    job.request["webhook_url"] = None
    assert bus.events.announce(job) == "song.processed"
    assert _queued_events(bus) == []
    local = _job(JobStatus.PROCESSED, webhook=False)
    local.request["webhook_url"] = "http://127.0.0.1:8080/hook"  # the local stack's receivers
    bus.events.announce(local)
    upper = _job(JobStatus.PROCESSED, webhook=False)
    upper.request["webhook_url"] = "HTTPS://hooks.example.com/songs"  # the URL check allows it
    bus.events.announce(upper)
    received = sorted(e["detail"]["data"]["job_id"] for e in _queued_events(bus))
    assert received == sorted([local.job_id, upper.job_id])
