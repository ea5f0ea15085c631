"""POST /songs in mode transcribe (and stems with formats "mid"): the source resolved and checked
before anything is charged, the flat MIDI price, the sources the workflow's Transcribe task reads,
and the MIDI links of a processed transcription."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from lambdas.common import media_keys
from lambdas.common.models import JobStatus
from stacks.config import ServiceConfig
from tests import factories
from tests.factories import new_result, put_job, put_processed_job

from .test_audio_in_songs import USER, _refused, body, pending_upload, ready_upload

PRICE = ServiceConfig().transcribe_credits


def _transcribe(source: dict, **extra) -> dict:
    return {"mode": "transcribe", "source": source, **extra}


def _execution_input(job_id: str) -> dict:
    job = factories.jobs().get(job_id)
    described = boto3.client("stepfunctions").describe_execution(executionArn=job.execution_arn)
    return json.loads(described["input"])


def test_an_upload_is_transcribed_for_the_flat_price(api, aws_env) -> None:
    upload_id = ready_upload(aws_env, duration_s=95.0)
    created = api.post_song(_transcribe({"upload_id": upload_id}, title="riff"))
    assert created.status == 202, created.body
    assert created.body["mode"] == "transcribe" and created.body["price_credits"] == PRICE
    assert created.body["request"]["duration_s"] == 95.0  # shown, not priced by
    assert factories.users().get_or_create(USER, 10).reserved_credits == PRICE
    # The execution carries what the Transcribe task reads: the upload's object, no GPU request.
    assert _execution_input(created.body["job_id"]) == {
        "job_id": created.body["job_id"],
        "user_id": USER,
        "transcription": {
            "sources": [
                {"bucket": aws_env.uploads_bucket, "key": f"uploads/{USER}/{upload_id}", "track": None}
            ],
            "tempo_bpm": 120,
        },
    }


def test_a_song_is_transcribed_from_its_first_takes_lossless_file_at_its_tempo(api, aws_env) -> None:
    job_id = str(uuid.uuid4())
    audio = [
        {"format": fmt, "take": take, "key": media_keys.audio_key(USER, job_id, fmt, take=take)}
        for take in (1, 2)
        for fmt in ("mp3", "wav")
    ]
    request = {**factories.REQUEST, "bpm": 96}  # ordered at 96 bpm
    song = put_job(USER, JobStatus.PROCESSED, job_id=job_id, request=request, result=new_result(audio=audio))
    created = api.post_song(_transcribe({"song_id": song.job_id}))
    assert created.status == 202, created.body
    transcription = _execution_input(created.body["job_id"])["transcription"]
    assert transcription == {
        "sources": [
            {"bucket": aws_env.media_bucket, "key": f"songs/{USER}/{song.job_id}/audio.wav", "track": None}
        ],
        "tempo_bpm": 96,
    }


def _stems_song(tracks: tuple[str, ...] = ("vocals", "bass")):
    job_id = str(uuid.uuid4())
    audio = [
        {"format": fmt, "track": track, "key": media_keys.audio_key(USER, job_id, fmt, track)}
        for track in tracks
        for fmt in ("mp3", "flac")
    ]
    return put_job(USER, JobStatus.PROCESSED, job_id=job_id, result=new_result(audio=audio, duration_s=30.0))


def test_a_stems_song_gives_one_source_per_track(api, aws_env) -> None:
    song = _stems_song()
    created = api.post_song(_transcribe({"song_id": song.job_id}))
    assert created.status == 202, created.body
    assert created.body["price_credits"] == PRICE  # per request, whatever the tracks
    sources = _execution_input(created.body["job_id"])["transcription"]["sources"]
    prefix = f"songs/{USER}/{song.job_id}/"
    assert sources == [  # the song's track order; flac before mp3: lossless first
        {"bucket": aws_env.media_bucket, "key": f"{prefix}stem-vocals.flac", "track": "vocals"},
        {"bucket": aws_env.media_bucket, "key": f"{prefix}stem-bass.flac", "track": "bass"},
    ]


def test_stems_with_mid_pay_the_midi_once_and_the_gpu_renders_audio_only(api, aws_env) -> None:
    from lambdas.common.inference import build_request

    upload_id = ready_upload(aws_env, duration_s=30.0)
    plain = api.post_song(body("stems", {"upload_id": upload_id}))
    with_midi = api.post_song(body("stems", {"upload_id": upload_id}, formats=["flac", "mid"]))
    assert with_midi.status == 202, with_midi.body
    assert with_midi.body["price_credits"] == plain.body["price_credits"] + PRICE
    job = factories.jobs().get(with_midi.body["job_id"])
    assert job.request["formats"] == ["flac", "mid"]
    assert build_request(job, "scratch")["formats"] == ["flac"]
    assert "transcription" not in _execution_input(job.job_id)  # planned after the stems exist


def test_bad_sources_are_refused_and_nothing_is_charged(api, aws_env) -> None:
    _refused(api, _transcribe({"upload_id": ready_upload(aws_env, user="bob")}), 404, "NotFound")
    _refused(api, _transcribe({"song_id": put_processed_job("bob").job_id}), 404, "NotFound")
    _refused(api, _transcribe({"upload_id": str(uuid.uuid4())}), 404, "NotFound")
    _refused(api, _transcribe({"upload_id": pending_upload()}), 409, "SourceNotReady")
    _refused(api, _transcribe({"song_id": put_job(USER, JobStatus.PROCESSING).job_id}), 409, "SourceNotReady")
    _refused(api, _transcribe({"song_id": put_job(USER, JobStatus.FAILED).job_id}), 422, "SourceUnusable")
    rejected = pending_upload()
    factories.uploads().mark_rejected(rejected, "Undecodable", "the file is not audio")
    _refused(api, _transcribe({"upload_id": rejected}), 422, "SourceUnusable")


def test_a_transcription_is_no_source_for_another(api, aws_env) -> None:
    transcription = put_job(
        USER,
        JobStatus.PROCESSED,
        request={"mode": "transcribe", "source": {"upload_id": str(uuid.uuid4())}, "duration_s": 3.0},
        result=new_result(
            audio=[], midi=[{"key": "songs/alice/x/audio.mid", "notes": 3}], prompt=None, seed=None
        ),
    )
    error = _refused(api, _transcribe({"song_id": transcription.job_id}), 422, "SourceUnusable")
    assert "no audio" in error["message"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        (_transcribe({}), "body.source"),
        (_transcribe({"upload_id": str(uuid.uuid4())}, seed=3), "body"),  # nothing is sampled: no such field
        (_transcribe({"upload_id": str(uuid.uuid4())}, formats=["mid"]), "body"),
        (body("stems", {"upload_id": str(uuid.uuid4())}, formats=["mid"]), "body.formats"),
        (body("stems", {"upload_id": str(uuid.uuid4())}, formats=["wav", "mid", "mid"]), "body.formats"),
        (body("cover", {"upload_id": str(uuid.uuid4())}, formats=["wav", "mid"]), "body.formats.1"),
    ],
)
def test_malformed_midi_requests_are_422_per_field(api, aws_env, request_body, field) -> None:
    result = api.post_song(request_body)
    assert result.status == 422, result.body
    assert any(d["field"] == field for d in result.body["error"]["details"]), result.body


def test_a_processed_transcription_links_its_midi(api, aws_env) -> None:
    job_id = str(uuid.uuid4())
    key = media_keys.midi_key(USER, job_id)
    assert key == f"songs/{USER}/{job_id}/audio.mid"
    result = new_result(audio=[], midi=[{"key": key, "notes": 3}], prompt=None, seed=None, duration_s=3.0)
    request = {"mode": "transcribe", "source": {"upload_id": str(uuid.uuid4())}, "duration_s": 3.0}
    put_job(USER, JobStatus.PROCESSED, job_id=job_id, request=request, result=result)
    shown = api.call("GET", f"/songs/{job_id}").body
    assert shown["midi_url"] and key in shown["midi_url"]
    assert shown["audio_url"] is None and shown["takes"] is None and shown["tracks"] is None


def test_a_stems_song_with_midi_links_each_tracks_midi_beside_its_audio(api, aws_env) -> None:
    job_id = str(uuid.uuid4())
    audio = [
        {"format": "wav", "track": t, "key": media_keys.audio_key(USER, job_id, "wav", t)} for t in ("bass",)
    ]
    midi = [{"key": media_keys.midi_key(USER, job_id, "bass"), "track": "bass", "notes": 9}]
    put_job(USER, JobStatus.PROCESSED, job_id=job_id, result=new_result(audio=audio, midi=midi))
    shown = api.call("GET", f"/songs/{job_id}").body
    assert set(shown["tracks"]["bass"]) == {"wav", "mid"}
    assert f"{job_id}/stem-bass.mid" in shown["tracks"]["bass"]["mid"] and shown["midi_url"] is None
