"""Lifecycle events: one helper puts them on the bus; the webhook rule passes songs with a webhook."""

from __future__ import annotations

import json

import boto3
import pytest

from lambdas.common import lifecycle
from lambdas.common.models import Job, JobResult, JobStatus, new_job_id, utc_now
from local.resources import create_lifecycle_events


@pytest.fixture
def bus(aws_env, monkeypatch: pytest.MonkeyPatch):
    from lambdas.common import settings

    created = create_lifecycle_events(boto3.client("events"), boto3.client("sqs"), aws_env)
    monkeypatch.setenv("EVENT_BUS_NAME", created.event_bus_name)
    settings.get_settings.cache_clear()
    return created


def _job(status: JobStatus, webhook: bool = True) -> Job:
    request = {"mode": "description", "description": "a calm song", "title": "Rain"}
    if webhook:
        request["webhook_url"] = "https://hooks.example.com/songs"
    result = JobResult.model_validate(
        {
            "audio": [{"format": "wav", "key": "songs/u/j/audio.wav"}],
            "prompt": "lofi",
            "seed": 7,
            "duration_s": 10,
        }
    )
    now = utc_now()
    return Job(
        job_id=new_job_id(),
        user_id="alice",
        status=status,
        stage=status.value,
        request=request,
        created_at=now,
        updated_at=now,
        result=result if status is JobStatus.PROCESSED else None,
    )


def _queued_events(bus) -> list[dict]:
    messages = boto3.client("sqs").receive_message(QueueUrl=bus.webhook_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_processed_song_is_announced_without_urls(bus) -> None:
    job = _job(JobStatus.PROCESSED)
    assert lifecycle.announce(job) == "song.processed"
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


@pytest.mark.parametrize(
    ("status", "event_type"),
    [
        (JobStatus.PROCESSING, "song.processing"),
        (JobStatus.FAILED, "song.failed"),
        (JobStatus.CANCELED, "song.canceled"),
    ],
)
def test_each_state_change_has_its_type(bus, status, event_type) -> None:
    assert lifecycle.announce(_job(status)) == event_type
    assert [e["detail"]["type"] for e in _queued_events(bus)] == [event_type]


def test_queued_is_not_an_event_and_songs_without_a_webhook_skip_the_sender(bus) -> None:
    assert lifecycle.announce(_job(JobStatus.QUEUED)) is None
    assert lifecycle.announce(_job(JobStatus.PROCESSED, webhook=False)) == "song.processed"
    assert _queued_events(bus) == []  # on the bus, but the webhook rule does not match it


def test_a_stored_null_webhook_url_does_not_reach_the_sender(bus) -> None:
    """The API stores the request with `"webhook_url": null`; EventBridge (and moto) count a null
    leaf as existing, so the rule must match the URL's scheme, not its presence."""
    job = _job(JobStatus.PROCESSED, webhook=False)
    job.request["webhook_url"] = None
    assert lifecycle.announce(job) == "song.processed"
    assert _queued_events(bus) == []
    local = _job(JobStatus.PROCESSED, webhook=False)
    local.request["webhook_url"] = "http://127.0.0.1:8080/hook"  # the local stack's receivers
    lifecycle.announce(local)
    upper = _job(JobStatus.PROCESSED, webhook=False)
    upper.request["webhook_url"] = "HTTPS://hooks.example.com/songs"  # the URL check allows it
    lifecycle.announce(upper)
    received = sorted(e["detail"]["data"]["job_id"] for e in _queued_events(bus))
    assert received == sorted([local.job_id, upper.job_id])
