"""Uploads through the local stack over HTTP: the browser's presigned POST to moto's S3, the check
triggered by the bucket's ObjectCreated notification (S3 -> SQS -> the check), and the refusals."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from local.client import ApiError, post_form

pytestmark = pytest.mark.slow
CHECK_TIMEOUT_S = 60


def encode(fmt: str, seconds: float, sample_rate: int = 48_000, channels: int = 2) -> bytes:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone] * channels, axis=1), sample_rate, format=fmt.upper())
    return buffer.getvalue()


def test_a_track_uploaded_like_a_browser_becomes_ready_with_its_measurements(user) -> None:
    upload = user("uploader").upload_file("take1.flac", encode("flac", 12.0), "audio/flac", CHECK_TIMEOUT_S)
    assert upload["status"] == "ready", upload
    assert upload["format"] == "flac" and upload["channels"] == 2 and upload["sample_rate"] == 48_000
    assert upload["duration_s"] == pytest.approx(12.0, abs=1e-3)
    assert upload["error"] is None
    # The upload analyzer's measurements: a 220 Hz sine at 0.2 (-13.98 dBFS) on both channels.
    analysis = upload["analysis"]
    assert analysis["duration_s"] == pytest.approx(12.0, abs=0.01)
    assert analysis["true_peak_dbtp"] == pytest.approx(-13.98, abs=0.2)
    samples, rate = sf.read(io.BytesIO(encode("flac", 12.0)), always_2d=True)
    reference = pyloudnorm.Meter(rate).integrated_loudness(samples)
    assert analysis["loudness_lufs"] == pytest.approx(reference, abs=0.5)


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "code"),
    [
        ("notes.wav", b"definitely not a song\n" * 64, "audio/wav", "NotAudio"),
        ("mislabelled.wav", encode("ogg", 3.0), "audio/wav", "WrongType"),
        # 10:01 of quiet mono FLAC: small on the wire, one second over the 10-minute limit.
        ("long.flac", encode("flac", 601.0, sample_rate=8_000, channels=1), "audio/flac", "TooLong"),
    ],
)
def test_unusable_uploads_are_rejected_with_a_reason(user, filename, data, content_type, code) -> None:
    upload = user("uploader").upload_file(filename, data, content_type, CHECK_TIMEOUT_S)
    assert upload["status"] == "rejected" and upload["error"]["code"] == code, upload
    if code == "TooLong":
        assert upload["error"]["message"] == "the track is 10:01 long; tracks up to 10:00 are accepted"


def test_uploads_are_private_to_their_owner(user) -> None:
    mine = user("uploader").upload_file("mine.wav", encode("wav", 2.0), "audio/wav", CHECK_TIMEOUT_S)
    with pytest.raises(ApiError) as missing:
        user("someone-else").upload(mine["upload_id"])
    assert missing.value.status == 404
    refused = user("someone-else").request(
        "POST", "/songs", json={"mode": "cover", "source": {"upload_id": mine["upload_id"]}, "prompt": "ska"}
    )
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "NotFound"


def test_a_pending_upload_cannot_be_used_yet_and_nothing_is_charged(user) -> None:
    client = user("impatient")
    credits = client.me()["credits"]
    form = client.create_upload("later.wav", "audio/wav", 1234)  # the file is never sent
    assert client.upload(form["upload_id"])["status"] == "pending"
    refused = client.request(
        "POST", "/songs", json={"mode": "cover", "source": {"upload_id": form["upload_id"]}, "prompt": "ska"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "SourceNotReady"
    refused = client.request(
        "POST", "/songs", json={"mode": "cover", "source": {"song_id": str(uuid.uuid4())}, "prompt": "ska"}
    )
    assert refused.status_code == 404
    assert client.me()["credits"] == credits
    assert client.request("GET", "/songs").json()["songs"] == []


def test_the_form_only_takes_the_declared_file(user) -> None:
    """moto does not enforce POST policies (S3 does); the check holds the file to its declaration."""
    client = user("uploader")
    declared = encode("wav", 2.0)
    form = client.create_upload("swap.wav", "audio/wav", len(declared))
    post_form(form, "swap.wav", declared + b"trailing", "audio/wav").raise_for_status()
    upload = client.wait_upload(form["upload_id"], CHECK_TIMEOUT_S)
    assert upload["status"] == "rejected" and upload["error"]["code"] == "NotAsDeclared"
