"""The SageMaker async notification parser and the manifest/request contracts."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from lambdas.common.inference import Manifest, build_request, parse_notification, parse_s3_uri
from lambdas.common.models import Job, JobStatus, JobStep

# The documented examples: https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html
SUCCESS = {
    "awsRegion": "us-east-1",
    "eventTime": "2022-01-25T22:46:00.608Z",
    "receivedTime": "2022-01-25T22:46:00.455Z",
    "invocationStatus": "Completed",
    "requestParameters": {
        "contentType": "application/json",
        "endpointName": "song-service-dev-music",
        "inputLocation": "s3://bucket/requests/job-1.json",
    },
    "responseParameters": {
        "contentType": "application/json",
        "outputLocation": "s3://bucket/async-output/abc.out",
    },
    "inferenceId": "job-1",
    "eventVersion": "1.0",
    "eventSource": "aws:sagemaker",
    "eventName": "InferenceResult",
}
FAILURE = {
    "awsRegion": "us-east-1",
    "eventTime": "2022-01-25T22:46:00.608Z",
    "receivedTime": "2022-01-25T22:46:00.455Z",
    "invocationStatus": "Failed",
    "failureReason": "ClientError: Received server error (500) from model. See the SageMaker Endpoint logs.",
    "requestParameters": {
        "endpointName": "song-service-dev-music",
        "inputLocation": "s3://bucket/requests/job-2.json",
    },
    "responseParameters": {"failureLocation": "s3://bucket/async-failures/abc-error.out"},
    "inferenceId": "job-2",
    "eventVersion": "1.0",
    "eventSource": "aws:sagemaker",
    "eventName": "InferenceResult",
}


def test_success_notification_raw_delivery() -> None:
    note = parse_notification(json.dumps(SUCCESS))
    assert note.succeeded and note.inference_id == "job-1"
    assert note.output_location == "s3://bucket/async-output/abc.out"
    assert note.request_parameters and note.request_parameters.endpoint_name == "song-service-dev-music"


def test_failure_notification_inside_an_sns_envelope() -> None:
    envelope = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn", "Message": json.dumps(FAILURE)}
    note = parse_notification(json.dumps(envelope))
    assert not note.succeeded and note.inference_id == "job-2"
    assert note.failure_reason and note.failure_reason.startswith("ClientError")
    assert note.output_location is None
    assert note.response_parameters and note.response_parameters.failure_location


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({**SUCCESS, "invocationStatus": "Running"}),
        json.dumps({k: v for k, v in SUCCESS.items() if k != "inferenceId"}),
        json.dumps({**SUCCESS, "inferenceId": ""}),
        "not json",
    ],
)
def test_malformed_notifications_are_rejected(body: str) -> None:
    with pytest.raises((ValidationError, ValueError)):
        parse_notification(body)


def test_s3_uri() -> None:
    assert parse_s3_uri("s3://bucket/a/b.out") == ("bucket", "a/b.out")
    for bad in ("https://bucket.s3.amazonaws.com/a", "s3://bucket/", "s3:///key"):
        with pytest.raises(ValueError):
            parse_s3_uri(bad)


def test_request_carries_the_body_the_job_id_and_the_output() -> None:
    body = {"mode": "custom_lyrics", "prompt": "rock", "lyrics": "[verse] hi", "formats": ["flac"], "seed": 7}
    job = Job(
        job_id="j1",
        user_id="u",
        status=JobStatus.PROCESSING,
        step=JobStep.GENERATING,
        request=body,
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z",
    )
    assert build_request(job, "scratch") == {
        **body,
        "job_id": "j1",
        "output": {"bucket": "scratch", "prefix": "media/j1/"},
    }


def test_manifest_contract() -> None:
    manifest = {
        "job_id": "j1",
        "audio": [
            {
                "format": "wav",
                "bucket": "b",
                "key": "media/j1/audio.wav",
                "content_type": "audio/wav",
                "size_bytes": 10,
            }
        ],
        "cover": None,
        "sample_rate": 44100,
        "duration_s": 30.5,
        "lyrics": None,
        "prompt": "p",
        "categories": ["rock"],
        "seed": 3,
        "engine": "musicgen",
        "timings": {"lyrics_s": 0, "music_s": 1, "cover_s": 0, "upload_s": 0, "total_s": 1.5, "extra_s": 2},
        "takes": [
            {
                "take": 1,
                "seed": 3,
                "rank": 1,
                "analysis": {"duration_s": 30.5, "loudness_lufs": None, "true_peak_dbtp": None, "bpm": 96.2,
                             "key": "E minor", "key_confidence": 0.4},
                "scores": {"text_audio": 0.3, "lyrics_accuracy": None, "bpm_error": None, "key_match": None},
                "lyrics_timing": None,
                "gain_db": 0.0,
            }
        ],
        "best_take": 1,
        "mastering": None,
        "future_field": True,
    }  # fmt: skip
    parsed = Manifest.model_validate(manifest)
    assert parsed.timings.total_s == 1.5 and parsed.cover is None
    assert parsed.takes[0].analysis.key == "E minor" and parsed.takes[0].analysis.loudness_lufs is None
    for broken in (
        {"audio": []},
        {"audio": [{**manifest["audio"][0], "format": "ogg"}]},
        {"sample_rate": 0},
        {"takes": []},
        {"best_take": 0},
        {
            "takes": [
                {**manifest["takes"][0], "lyrics_timing": {"bucket": "b", "key": "k", "content_type": "x"}}
            ]
        },
    ):
        with pytest.raises(ValidationError):
            Manifest.model_validate({**manifest, **broken})
