"""POST/GET/DELETE /personas and `persona_id` on songs, against moto with real audio files."""

from __future__ import annotations

import hashlib
import io
import uuid

import boto3
import numpy as np
import pytest
import soundfile as sf

from lambdas.common import runtime
from lambdas.common.inference import build_request
from lambdas.common.models import JobStatus
from lambdas.common.uploads import new_upload
from tests import factories
from tests.factories import put_job, put_processed_job

USER = "alice"
SR = 44_100


def ramp_audio(seconds: float, *, sample_rate: int = SR, amplitude: float = 0.5, fmt: str = "WAV") -> bytes:
    """Stereo audio whose left channel is a slow ramp (sample n holds n / total * amplitude), so
    a window's first sample tells where it was cut; the right channel is a tone."""
    n = int(seconds * sample_rate)
    left = amplitude * np.arange(n) / n
    right = amplitude * np.sin(2 * np.pi * 220 * np.arange(n) / sample_rate)
    buffer = io.BytesIO()
    subtype = "FLOAT" if fmt == "WAV" else None
    sf.write(
        buffer, np.stack([left, right], axis=1).astype(np.float32), sample_rate, format=fmt, subtype=subtype
    )
    return buffer.getvalue()


def ready_upload(names, data: bytes, seconds: float, user: str = USER) -> str:
    upload = new_upload(user, str(uuid.uuid4()), "voice.wav", "audio/wav", len(data), expiry_days=7)
    store = factories.uploads()
    store.create(upload)
    boto3.client("s3").put_object(Bucket=names.uploads_bucket, Key=upload.key, Body=data)
    store.mark_ready(upload.upload_id, fmt="wav", duration_s=seconds, sample_rate=SR, channels=2, etag="e")
    return upload.upload_id


def make(api, source: dict, user: str = USER, **fields):
    return api.call("POST", "/personas", body={"name": "Night voice", "source": source, **fields}, user=user)


def stored_objects(names) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=names.media_bucket, Prefix="personas/")
    return [o["Key"] for o in listed.get("Contents", [])]


def read_media(names, key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=names.media_bucket, Key=key)["Body"].read()


@pytest.fixture
def voice(aws_env) -> str:
    """A ready 40 s upload of the user's."""
    return ready_upload(aws_env, ramp_audio(40.0), 40.0)


def test_a_persona_from_an_upload_keeps_the_window_from_start_s(api, aws_env, voice) -> None:
    created = make(api, {"upload_id": voice}, start_s=4.0, style="breathy alto, lo-fi")
    assert created.status == 201, created.body
    persona = created.body
    assert persona["name"] == "Night voice" and persona["style"] == "breathy alto, lo-fi"
    assert persona["source"] == {"upload_id": voice, "song_id": None, "take": None}
    assert persona["start_s"] == 4.0 and persona["reference_s"] == 30.0
    key = f"personas/{USER}/{persona['persona_id']}/reference.wav"
    assert stored_objects(aws_env) == [key]
    clip = read_media(aws_env, key)
    assert hashlib.sha256(clip).hexdigest() == persona["reference_sha256"]
    samples, rate = sf.read(io.BytesIO(clip), dtype="float32", always_2d=True)
    assert rate == SR and samples.shape == (30 * SR, 2)
    # The ramp's value at 4 s of 40 s: the clip starts where it was asked to.
    assert samples[0, 0] == pytest.approx(0.5 * 4 / 40, abs=1e-4)
    assert persona["reference_url"].startswith("http") and "reference.wav" in persona["reference_url"]

    shown = api.call("GET", f"/personas/{persona['persona_id']}")
    assert shown.status == 200 and shown.body["reference_sha256"] == persona["reference_sha256"]


def test_a_short_tail_makes_a_shorter_clip_and_too_little_is_422(api, aws_env, voice) -> None:
    tail = make(api, {"upload_id": voice}, start_s=32.0)
    assert tail.status == 201, tail.body
    assert tail.body["reference_s"] == pytest.approx(8.0, abs=1e-3)
    refused = make(api, {"upload_id": voice}, start_s=36.0)
    assert refused.status == 422 and refused.body["error"]["details"][0]["field"] == "body.start_s"
    assert len(stored_objects(aws_env)) == 1


def test_a_persona_from_a_take_of_a_song(api, aws_env) -> None:
    song = put_processed_job(USER, takes=2)
    take2 = next(a for a in song.result.audio if a.take == 2 and a.format == "wav")
    boto3.client("s3").put_object(Bucket=aws_env.media_bucket, Key=take2.key, Body=ramp_audio(30.0))
    created = make(api, {"song_id": song.job_id, "take": 2})
    assert created.status == 201, created.body
    assert created.body["source"] == {"upload_id": None, "song_id": song.job_id, "take": 2}
    # Take 1's files are not audio here (b"media"): reading it would have been refused.
    assert make(api, {"song_id": song.job_id}).status == 422
    assert make(api, {"song_id": song.job_id, "take": 3}).error_code == "SourceUnusable"


def test_listing_is_newest_first_and_paginated(api, aws_env, voice) -> None:
    ids = [make(api, {"upload_id": voice}, start_s=float(i)).body["persona_id"] for i in range(3)]
    first = api.call("GET", "/personas", query={"limit": "2"})
    assert first.status == 200
    assert [p["persona_id"] for p in first.body["personas"]] == ids[::-1][:2]
    second = api.call("GET", "/personas", query={"limit": "2", "next_token": first.body["next_token"]})
    assert [p["persona_id"] for p in second.body["personas"]] == ids[:1]
    assert second.body["next_token"] is None
    assert api.call("GET", "/personas", query={"next_token": "garbage"}).status == 400


def test_another_users_persona_is_404_everywhere(api, aws_env, voice) -> None:
    persona_id = make(api, {"upload_id": voice}).body["persona_id"]
    for method, path in (("GET", f"/personas/{persona_id}"), ("DELETE", f"/personas/{persona_id}")):
        assert api.call(method, path, user="bob").status == 404
    assert api.call("GET", "/personas", user="bob").body["personas"] == []
    factories.put_user("bob", 10)
    before = factories.users().get_or_create("bob", 10)
    sung = api.post_song(
        {"mode": "description", "description": "a ballad", "persona_id": persona_id}, user="bob"
    )
    assert sung.status == 404 and sung.body["error"]["message"] == "persona not found"
    assert factories.users().get_or_create("bob", 10) == before  # nothing reserved
    assert factories.jobs().list_for_user("bob", 10)[0] == []
    # A page token of alice's list is not one of bob's.
    make(api, {"upload_id": voice})
    token = api.call("GET", "/personas", query={"limit": "1"}).body["next_token"]
    assert api.call("GET", "/personas", user="bob", query={"next_token": token}).status == 400
    assert api.call("GET", f"/personas/{persona_id}").status == 200


def test_the_cap_per_user_is_409_until_one_is_deleted(api, aws_env, voice, monkeypatch) -> None:
    monkeypatch.setenv("PERSONA_MAX_PER_USER", "2")
    runtime.reset_all()
    first = make(api, {"upload_id": voice}).body["persona_id"]
    assert make(api, {"upload_id": voice}).status == 201
    refused = make(api, {"upload_id": voice})
    assert refused.status == 409 and refused.error_code == "PersonaQuotaExceeded"
    assert refused.body["error"]["details"] == {"personas": 2, "limit": 2}
    assert len(stored_objects(aws_env)) == 2
    assert make(api, {"upload_id": voice}, user="bob").status == 404  # bob's cap is his own
    assert api.call("DELETE", f"/personas/{first}").status == 204
    assert make(api, {"upload_id": voice}).status == 201


def _refused(api, names, source: dict, status: int, code: str, **fields) -> dict:
    result = make(api, source, **fields)
    assert result.status == status, result.body
    assert result.error_code == code
    assert stored_objects(names) == []
    assert api.call("GET", "/personas").body["personas"] == []
    return result.body["error"]


def test_bad_sources_are_refused_and_change_nothing(api, aws_env) -> None:
    _refused(api, aws_env, {"upload_id": str(uuid.uuid4())}, 404, "NotFound")
    theirs = ready_upload(aws_env, ramp_audio(10.0), 10.0, user="bob")
    _refused(api, aws_env, {"upload_id": theirs}, 404, "NotFound")
    _refused(api, aws_env, {"song_id": put_processed_job("bob").job_id}, 404, "NotFound")

    pending = new_upload(USER, str(uuid.uuid4()), "a.wav", "audio/wav", 10, expiry_days=7)
    factories.uploads().create(pending)
    _refused(api, aws_env, {"upload_id": pending.upload_id}, 409, "SourceNotReady")
    _refused(api, aws_env, {"song_id": put_job(USER, JobStatus.PROCESSING).job_id}, 409, "SourceNotReady")
    _refused(api, aws_env, {"song_id": put_job(USER, JobStatus.FAILED).job_id}, 422, "SourceUnusable")
    rejected = new_upload(USER, str(uuid.uuid4()), "b.wav", "audio/wav", 10, expiry_days=7)
    factories.uploads().create(rejected)
    factories.uploads().mark_rejected(rejected.upload_id, "NotAudio", "not audio")
    _refused(api, aws_env, {"upload_id": rejected.upload_id}, 422, "SourceUnusable")


def test_silent_or_undecodable_windows_are_422(api, aws_env) -> None:
    quiet = ready_upload(aws_env, ramp_audio(20.0, amplitude=0.0), 20.0)
    error = _refused(api, aws_env, {"upload_id": quiet}, 422, "SourceUnusable")
    assert "silent" in error["message"]
    broken = ready_upload(aws_env, b"RIFF not really audio" * 100, 20.0)
    error = _refused(api, aws_env, {"upload_id": broken}, 422, "SourceUnusable")
    assert "decoded" in error["message"]


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "infinity"])
def test_a_window_holding_samples_that_are_not_numbers_is_422(api, aws_env, bad) -> None:
    # A float WAV may carry NaN or infinity; uploads made ready before the check refused them exist.
    samples = np.full((10 * SR, 2), 0.25, dtype=np.float32)
    samples[SR, 0] = bad
    buffer = io.BytesIO()
    sf.write(buffer, samples, SR, format="WAV", subtype="FLOAT")
    upload = ready_upload(aws_env, buffer.getvalue(), 10.0)
    error = _refused(api, aws_env, {"upload_id": upload}, 422, "SourceUnusable")
    assert "not numbers" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "source": {"upload_id": "00000000-0000-4000-8000-000000000000"}}, "body.name"),
        ({"name": "x", "source": {"upload_id": "not-a-uuid"}}, "body.source.upload_id"),
        (
            {"name": "x", "source": {"upload_id": "00000000-0000-4000-8000-000000000000", "take": 2}},
            "body.source",
        ),
        ({"name": "x", "source": {}}, "body.source"),
        (
            {"name": "x", "source": {"song_id": "00000000-0000-4000-8000-000000000000"}, "start_s": -1},
            "body.start_s",
        ),
        (
            {"name": "x", "source": {"song_id": "00000000-0000-4000-8000-000000000000"}, "style": "s" * 301},
            "body.style",
        ),
        (
            {"name": "x", "source": {"song_id": "00000000-0000-4000-8000-000000000000"}, "voice": 1},
            "body",
        ),
    ],
)
def test_malformed_requests_are_422_per_field(api, aws_env, body, field) -> None:
    result = api.call("POST", "/personas", body=body)
    assert result.status == 422, result.body
    assert any(d["field"].startswith(field) for d in result.body["error"]["details"]), result.body


# --- songs sung with a persona -------------------------------------------------------------------

TEXT_MODES = {
    "description": {"description": "a slow ballad about the sea"},
    "custom_lyrics": {"prompt": "soul, warm", "lyrics": "[verse]\nhold on"},
    "described_lyrics": {"prompt": "soul, warm", "described_lyrics": "about the sea"},
    "instrumental": {"mode": "description", "description": "a slow ballad", "instrumental": True},
}


@pytest.mark.parametrize("mode", [*TEXT_MODES, "cover"])
def test_text_modes_and_cover_carry_the_persona_to_the_container(api, aws_env, voice, mode) -> None:
    persona = make(api, {"upload_id": voice}, style="breathy alto").body
    factories.put_user(USER, 100)
    if mode == "cover":
        body = {"mode": "cover", "source": {"upload_id": voice}, "prompt": "jazz trio"}
    else:
        body = {"mode": mode, **TEXT_MODES[mode]}
    created = api.post_song(
        {**body, "persona_id": persona["persona_id"], "duration_s": 30}
        if mode != "cover"
        else {**body, "persona_id": persona["persona_id"]}
    )
    assert created.status == 202, created.body
    assert created.body["persona_id"] == persona["persona_id"]
    assert created.body["request"]["persona_id"] == persona["persona_id"]
    request = build_request(factories.jobs().get(created.body["job_id"]), "scratch")
    assert request["persona"] == {
        "reference": {
            "bucket": aws_env.media_bucket,
            "key": f"personas/{USER}/{persona['persona_id']}/reference.wav",
        },
        "sha256": persona["reference_sha256"],
        "style": "breathy alto",
    }


@pytest.mark.parametrize("mode", ["repaint", "extend", "stems"])
def test_other_audio_in_modes_take_no_persona(api, aws_env, voice, mode) -> None:
    fields = {
        "repaint": {"start_s": 1.0, "end_s": 5.0},
        "extend": {"add_s": 10.0},
        "stems": {"tracks": ["vocals"]},
    }
    body = {"mode": mode, "source": {"upload_id": voice}, "persona_id": str(uuid.uuid4()), **fields[mode]}
    result = api.post_song(body)
    assert result.status == 422
    assert [d["type"] for d in result.body["error"]["details"]] == ["extra_forbidden"]


def test_a_song_without_a_persona_sends_none(api, aws_env) -> None:
    created = api.post_song({"mode": "description", "description": "a slow ballad", "duration_s": 30})
    assert created.status == 202 and created.body["persona_id"] is None
    assert "persona" not in build_request(factories.jobs().get(created.body["job_id"]), "scratch")


def test_the_clip_outlives_its_source(api, aws_env, voice) -> None:
    persona = make(api, {"upload_id": voice}).body
    assert api.call("DELETE", f"/uploads/{voice}").status == 204
    assert api.call("GET", f"/personas/{persona['persona_id']}").status == 200
    created = api.post_song(
        {
            "mode": "description",
            "description": "a ballad",
            "persona_id": persona["persona_id"],
            "duration_s": 30,
        }
    )
    assert created.status == 202, created.body
    job = factories.jobs().get(created.body["job_id"])
    clip = read_media(aws_env, job.persona.key)
    assert hashlib.sha256(clip).hexdigest() == persona["reference_sha256"]


def test_delete_waits_for_songs_in_flight_and_processed_songs_keep_their_persona(api, aws_env, voice) -> None:
    persona = make(api, {"upload_id": voice}).body
    persona_id = persona["persona_id"]
    created = api.post_song(
        {"mode": "description", "description": "a ballad", "persona_id": persona_id, "duration_s": 30}
    )
    song_id = created.body["job_id"]
    refused = api.call("DELETE", f"/personas/{persona_id}")
    assert refused.status == 409 and refused.error_code == "PersonaInUse"
    assert refused.body["error"]["details"]["song_ids"] == [song_id]

    boto3.resource("dynamodb").Table(aws_env.jobs_table).update_item(
        Key={"job_id": song_id},
        UpdateExpression="SET #s = :done",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": JobStatus.FAILED.value},
    )
    assert api.call("DELETE", f"/personas/{persona_id}").status == 204
    assert stored_objects(aws_env) == []
    assert api.call("GET", f"/personas/{persona_id}").status == 404
    assert api.call("DELETE", f"/personas/{persona_id}").status == 404
    assert api.call("GET", f"/songs/{song_id}").body["persona_id"] == persona_id
    gone = api.post_song({"mode": "description", "description": "again", "persona_id": persona_id})
    assert gone.status == 404
