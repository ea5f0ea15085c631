"""The upload check with moto: real files decoded by soundfile, the outcome recorded, rejects deleted."""

from __future__ import annotations

import boto3
import pytest

from lambdas.common.store.objects import UploadsBucket
from lambdas.common.uploads import UploadStatus, new_upload, object_key
from lambdas.upload_check import handler
from lambdas.upload_check.check import UploadCheck, clock
from tests import factories

from .conftest import audio_bytes, s3_event

USER = "alice"


def land(
    names, data: bytes, content_type: str, *, declared_size: int | None = None, stored_type: str | None = None
):
    """A pending row as POST /uploads writes it, and the object as the form would store it."""
    upload = new_upload(USER, _new_id(), "track", content_type, declared_size or len(data), expiry_days=7)
    factories.uploads().create(upload)
    boto3.client("s3").put_object(
        Bucket=names.uploads_bucket, Key=upload.key, Body=data, ContentType=stored_type or content_type
    )
    return upload


def _check() -> UploadCheck:
    """The function's check, with its settings (the test environment's, the limits fixture's)."""
    return handler.cold_start.dependencies()


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())


def _exists(names, key: str) -> bool:
    return "Contents" in boto3.client("s3").list_objects_v2(Bucket=names.uploads_bucket, Prefix=key)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("wav", "audio/wav"), ("flac", "audio/flac"), ("ogg", "audio/ogg"), ("mp3", "audio/mpeg")],
)
def test_each_format_is_decoded_and_measured(aws_env, fmt, content_type) -> None:
    upload = land(aws_env, audio_bytes(fmt, seconds=2.0, sample_rate=44_100, channels=2), content_type)
    assert _check().check(upload.key) == "ready"
    row = factories.uploads().find(upload.upload_id)
    assert row.status is UploadStatus.READY and row.error is None
    assert row.format == fmt and row.sample_rate == 44_100 and row.channels == 2
    # MP3 frames pad the end by up to one frame (1152 samples) plus the encoder delay.
    assert row.duration_s == pytest.approx(2.0, abs=0.06 if fmt == "mp3" else 1e-3)
    assert _exists(aws_env, upload.key)


def test_mono_and_rate_are_reported_as_found(aws_env) -> None:
    upload = land(aws_env, audio_bytes("wav", seconds=1.5, sample_rate=22_050, channels=1), "audio/x-wav")
    _check().check(upload.key)
    row = factories.uploads().find(upload.upload_id)
    assert (row.channels, row.sample_rate, row.duration_s) == (1, 22_050, 1.5)


@pytest.mark.parametrize(
    ("data", "content_type", "code", "words"),
    [
        (b"this is a text file, not a song\n" * 40, "audio/wav", "NotAudio", "not audio that can be read"),
        (
            audio_bytes("flac"),
            "audio/wav",
            "WrongType",
            "the file is FLAC audio but was declared as audio/wav",
        ),
        (
            audio_bytes("wav"),
            "audio/mpeg",
            "WrongType",
            "the file is WAV audio but was declared as audio/mpeg",
        ),
        (audio_bytes("wav", seconds=0.4), "audio/wav", "TooShort", "0.40 s long"),
        (
            audio_bytes("wav", sample_rate=7_999, channels=1),
            "audio/wav",
            "UnsupportedSampleRate",
            "sampled at 7999 Hz; send audio sampled at 8,000 to 192,000 Hz",
        ),
        (
            audio_bytes("flac", seconds=1.0, sample_rate=384_000, channels=1),
            "audio/flac",
            "UnsupportedSampleRate",
            "sampled at 384000 Hz",
        ),
        (
            audio_bytes("wav", seconds=1.0, channels=6),
            "audio/wav",
            "TooManyChannels",
            "the track has 6 channels; send a mono or stereo mix",
        ),
    ],
)
def test_unusable_files_are_rejected_with_a_reason_and_deleted(
    aws_env, data, content_type, code, words
) -> None:
    upload = land(aws_env, data, content_type)
    assert _check().check(upload.key) == "rejected"
    row = factories.uploads().find(upload.upload_id)
    assert row.status is UploadStatus.REJECTED
    assert row.error.code == code and words in row.error.message
    assert not _exists(aws_env, upload.key)


def test_too_long_says_how_long_and_the_limit(aws_env, upload_limits) -> None:
    upload = land(aws_env, audio_bytes("ogg", seconds=4.6), "audio/ogg")
    _check().check(upload.key)
    row = factories.uploads().find(upload.upload_id)
    assert row.error.code == "TooLong"
    assert row.error.message == "the track is 0:05 long; tracks up to 0:03 are accepted"
    assert not _exists(aws_env, upload.key)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"declared_size": 10}, "were declared"),
        ({"stored_type": "audio/flac"}, "sent as audio/flac but declared as audio/wav"),
    ],
)
def test_a_file_that_is_not_what_was_declared_is_rejected(aws_env, kwargs, words) -> None:
    upload = land(aws_env, audio_bytes("wav"), "audio/wav", **kwargs)
    _check().check(upload.key)
    row = factories.uploads().find(upload.upload_id)
    assert row.error.code == "NotAsDeclared" and words in row.error.message


def test_a_repeated_event_changes_nothing(aws_env) -> None:
    upload = land(aws_env, audio_bytes("wav"), "audio/wav")
    check = _check()
    assert check.check(upload.key) == "ready"
    etag = factories.uploads().find(upload.upload_id).etag
    assert check.check(upload.key, f'"{etag}"') == "duplicate"
    assert factories.uploads().find(upload.upload_id).status is UploadStatus.READY


def test_a_checked_file_replaced_through_the_same_form_is_rejected(aws_env) -> None:
    upload = land(aws_env, audio_bytes("wav"), "audio/wav")
    check = _check()
    check.check(upload.key)
    put = boto3.client("s3").put_object(Bucket=aws_env.uploads_bucket, Key=upload.key, Body=b"x" * 100)
    assert check.check(upload.key, put["ETag"]) == "replaced"
    row = factories.uploads().find(upload.upload_id)
    assert row.status is UploadStatus.REJECTED and row.error.code == "Replaced"
    assert not _exists(aws_env, upload.key)


def test_objects_without_a_row_or_outside_the_layout_are_deleted(aws_env) -> None:
    s3 = boto3.client("s3")
    orphan = object_key(USER, _new_id())
    s3.put_object(Bucket=aws_env.uploads_bucket, Key=orphan, Body=b"x")
    s3.put_object(Bucket=aws_env.uploads_bucket, Key="uploads/stray.wav", Body=b"x")
    check = _check()
    assert check.check(orphan) == "orphan"
    assert check.check("uploads/stray.wav") == "foreign"
    assert not _exists(aws_env, orphan) and not _exists(aws_env, "uploads/stray.wav")


def test_a_key_under_another_users_prefix_does_not_touch_the_row(aws_env) -> None:
    """A row is only ever checked through its own key: the owner is part of the key."""
    upload = land(aws_env, audio_bytes("wav"), "audio/wav")
    forged = object_key("mallory", upload.upload_id)
    boto3.client("s3").put_object(Bucket=aws_env.uploads_bucket, Key=forged, Body=b"x")
    assert _check().check(forged) == "orphan"
    assert factories.uploads().find(upload.upload_id).status is UploadStatus.PENDING


def test_a_retry_after_the_row_was_rejected_still_deletes_the_object(aws_env) -> None:
    upload = land(aws_env, b"not audio" * 50, "audio/wav")
    factories.uploads().mark_rejected(upload.upload_id, "NotAudio", "not audio")
    assert _check().check(upload.key) == "already_rejected"
    assert not _exists(aws_env, upload.key)


def test_handler_skips_s3_test_events_and_reports_failures_per_message(aws_env, monkeypatch) -> None:
    good = land(aws_env, audio_bytes("wav"), "audio/wav")
    boom = land(aws_env, audio_bytes("wav"), "audio/wav")
    real_head = UploadsBucket.head

    def flaky_head(self, key):
        if key == boom.key:
            raise RuntimeError("S3 is having a moment")
        return real_head(self, key)

    monkeypatch.setattr(UploadsBucket, "head", flaky_head)
    records = [
        {"messageId": "m0", "body": '{"Service":"Amazon S3","Event":"s3:TestEvent"}'},
        {"messageId": "m1", "body": s3_event(good.key)},
        {"messageId": "m2", "body": s3_event(boom.key)},
        {"messageId": "m3", "body": s3_event(good.key, event="ObjectRemoved:Delete")},
    ]
    event = {
        "Records": [
            {**r, "receiptHandle": r["messageId"], "attributes": {}, "eventSource": "aws:sqs"}
            for r in records
        ]
    }
    from tests.unit.api.conftest import FakeContext

    result = handler.lambda_handler(event, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert factories.uploads().find(good.upload_id).status is UploadStatus.READY
    assert factories.uploads().find(boom.upload_id).status is UploadStatus.PENDING


def test_clock_reads_like_a_track_length() -> None:
    assert (clock(725), clock(59.6), clock(600)) == ("12:05", "1:00", "10:00")


@pytest.mark.parametrize(("rate", "channels"), [(8_000, 1), (22_051, 2), (47_999, 1), (192_000, 2)])
def test_odd_but_real_rates_within_the_bounds_are_accepted(aws_env, rate, channels) -> None:
    upload = land(aws_env, audio_bytes("wav", seconds=1.0, sample_rate=rate, channels=channels), "audio/wav")
    assert _check().check(upload.key) == "ready"


# --- the upload analyzer (loudness, tempo, key), invoked once a file is accepted ---------------------


def _analyzer_name() -> str:
    import os

    return os.environ["UPLOAD_ANALYZER_FUNCTION_NAME"]


def _click_track_wav(bpm: float = 120.0, seconds: float = 12.0, rate: int = 44_100) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    from tests.container.signals import click_track

    clicks = click_track(bpm, seconds, rate)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([clicks, clicks], axis=1), rate, format="WAV")
    return buffer.getvalue()


def test_an_accepted_upload_is_ready_with_the_analyzers_measurements(aws_env) -> None:
    """The real analyzer (the transcriber image's handler, in-process as the local stack runs it)."""
    from lambdas.common import contract
    from local.functions import load
    from local.lambda_routing import route_lambda_invokes

    analyzer = load(contract.UPLOAD_ANALYZER, contract.upload_analyzer_environment({
        "uploads_bucket_name": aws_env.uploads_bucket, "upload_max_duration_seconds": 600,
    }))  # fmt: skip
    upload = land(aws_env, _click_track_wav(), "audio/wav")
    with route_lambda_invokes({_analyzer_name(): analyzer}):
        assert _check().check(upload.key) == "ready"
    row = factories.uploads().find(upload.upload_id)
    assert row.status is UploadStatus.READY and row.duration_s == pytest.approx(12.0, abs=1e-3)
    assert row.analysis is not None
    assert row.analysis.bpm == pytest.approx(120.0, rel=0.02)
    assert row.analysis.duration_s == pytest.approx(12.0, abs=0.01)
    assert row.analysis.true_peak_dbtp is not None and row.analysis.loudness_lufs is not None


def _failing(error: Exception):
    def handler(event, context):
        raise error

    return handler


@pytest.mark.parametrize(
    "analyzer",
    [
        _failing(TimeoutError("Task timed out after 120.00 seconds")),
        _failing(MemoryError()),
        lambda event, context: {"analysis": {"bpm": "fast"}},  # an answer that is not an analysis
        # JSON's Infinity and NaN parse as floats, which DynamoDB cannot store: not an analysis.
        lambda event, context: {"analysis": {"duration_s": 1.0, "loudness_lufs": float("-inf")}},
        lambda event, context: {"analysis": {"duration_s": 1.0, "bpm": float("nan")}},
        lambda event, context: None,
    ],
)
def test_a_failed_analysis_leaves_the_upload_ready_without_one(aws_env, analyzer) -> None:
    from local.lambda_routing import route_lambda_invokes

    upload = land(aws_env, audio_bytes("wav"), "audio/wav")
    with route_lambda_invokes({_analyzer_name(): analyzer}):
        assert _check().check(upload.key) == "ready"
    row = factories.uploads().find(upload.upload_id)
    assert row.status is UploadStatus.READY and row.analysis is None
    assert _exists(aws_env, upload.key)


def test_an_unreachable_analyzer_leaves_the_upload_ready_without_one(aws_env) -> None:
    """No such function (moto answers ResourceNotFound): a ClientError, not a failed check."""
    upload = land(aws_env, audio_bytes("flac"), "audio/flac")
    assert _check().check(upload.key) == "ready"
    assert factories.uploads().find(upload.upload_id).analysis is None


def test_a_rejected_file_is_never_analyzed(aws_env) -> None:
    from local.lambda_routing import route_lambda_invokes

    calls = []
    upload = land(aws_env, b"not audio" * 100, "audio/wav")
    with route_lambda_invokes({_analyzer_name(): lambda event, context: calls.append(event)}):
        assert _check().check(upload.key) == "rejected"
    assert calls == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_float_file_with_samples_that_are_not_numbers_is_rejected(aws_env, bad) -> None:
    """Such a file decodes (libsndfile reads floats as they are) but would feed the model NaN."""
    import io

    import numpy as np
    import soundfile as sf

    data = np.full((48_000 * 2, 2), 0.1, dtype=np.float32)
    data[60_000] = bad
    buffer = io.BytesIO()
    sf.write(buffer, data, 48_000, format="WAV", subtype="FLOAT")
    upload = land(aws_env, buffer.getvalue(), "audio/wav")
    assert _check().check(upload.key) == "rejected"
    row = factories.uploads().find(upload.upload_id)
    assert row.error.code == "DamagedAudio" and "not numbers" in row.error.message
    assert not _exists(aws_env, upload.key)


def test_the_analyzer_is_invoked_once_and_waited_for_past_its_cold_start(aws_env) -> None:
    """The SDK's read timeout covers the analyzer's timeout and Lambda's init (up to 10 s) before
    it, and ends before the check's own timeout; no retry runs the analysis twice."""
    from lambdas.common import aws, contract
    from lambdas.upload_check.analysis import INVOKE_CONFIG

    config = aws.client("lambda", INVOKE_CONFIG).meta.config
    assert config.read_timeout > contract.UPLOAD_ANALYZER_TIMEOUT_S + 10
    assert config.read_timeout < contract.UPLOAD_CHECK.function_timeout_s
    assert config.retries["total_max_attempts"] == 1
    assert aws.client("lambda").meta.config.read_timeout == 60  # other calls keep boto3's default
