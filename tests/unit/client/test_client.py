"""The client's operations against the in-memory API: idempotency keys, errors, wait, files."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from song_client import (
    ApiError,
    AuthenticationError,
    Client,
    ConfigurationError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Progress,
    RateLimitError,
    ServerError,
    SongNotReadyError,
    UploadError,
    UploadRejectedError,
    WaitTimeoutError,
    media_files,
)
from song_client.errors import error_from_response
from song_client.models import DescriptionRequest, JobStatus, SongDetail

from .fake_api import API, FakeApi, error

BODY = {"mode": "description", "description": "a calm lofi song", "duration_s": 10}


# --- credential and settings ---------------------------------------------------------------------


def test_the_credential_goes_as_a_bearer_token_to_the_api_only(
    client: Client, api: FakeApi, tmp_path
) -> None:
    song = client.wait(client.create_song(BODY))
    client.download(song, tmp_path)
    assert {r.headers["Authorization"] for r in api.api_requests()} == {"Bearer key-123"}
    storage = [r for r in api.requests if r.url.host == "storage.example.test"]
    assert storage and all("Authorization" not in r.headers for r in storage)


def test_settings_from_the_environment(monkeypatch, api: FakeApi) -> None:
    monkeypatch.setenv("SONG_API_URL", API + "/")
    monkeypatch.setenv("SONG_API_KEY", "env-key")
    with Client(transport=api.transport()) as client:
        client.me()
    request = api.api_requests()[-1]
    assert request.url == httpx.URL(API + "/me")
    assert request.headers["Authorization"] == "Bearer env-key"


@pytest.mark.parametrize("missing", ["SONG_API_URL", "SONG_API_KEY"])
def test_missing_settings_are_a_configuration_error(monkeypatch, missing: str) -> None:
    monkeypatch.setenv("SONG_API_URL", API)
    monkeypatch.setenv("SONG_API_KEY", "k")
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigurationError, match=missing):
        Client()


def test_ids_cannot_change_the_path(client: Client) -> None:
    with pytest.raises(ValueError, match="not a valid id"):
        client.get_song("../me")


# --- idempotency ---------------------------------------------------------------------------------


def test_create_sends_a_new_idempotency_key_and_reuses_it_on_retries(client: Client, api: FakeApi) -> None:
    api.then("POST", "/songs", error(503, "ServiceUnavailable", "retry"), error(500, "InternalError", "x"))
    song = client.create_song(BODY)
    keys = [r.headers["Idempotency-Key"] for r in api.api_requests("POST", "/songs")]
    assert len(keys) == 3 and len(set(keys)) == 1
    assert uuid.UUID(keys[0]).version == 4
    assert song.status is JobStatus.queued

    client.create_song(BODY)
    assert api.api_requests("POST", "/songs")[-1].headers["Idempotency-Key"] != keys[0]


def test_a_retried_create_whose_first_attempt_landed_gets_the_same_song(client: Client, api: FakeApi) -> None:
    first = client.create_song(BODY, idempotency_key="batch-line-1")
    again = client.create_song(BODY, idempotency_key="batch-line-1")
    assert again.job_id == first.job_id and len(api.songs) == 1


def test_idempotency_in_progress_is_retried_with_the_same_key(client: Client, api: FakeApi, sleeps) -> None:
    api.then("POST", "/songs", error(409, "IdempotencyInProgress", "the first request is still running"))
    client.create_song(BODY, idempotency_key="k-1")
    assert [r.headers["Idempotency-Key"] for r in api.api_requests("POST", "/songs")] == ["k-1", "k-1"]
    assert len(sleeps) == 1


def test_request_models_send_only_what_was_set(client: Client, api: FakeApi) -> None:
    client.create_song(DescriptionRequest(mode="description", description="a calm lofi song", seed=0))
    sent = json.loads(api.api_requests("POST", "/songs")[-1].content)
    assert sent == {"mode": "description", "description": "a calm lofi song", "seed": 0}


def test_keyword_fields_extend_the_request(client: Client, api: FakeApi) -> None:
    client.create_song(mode="custom_lyrics", prompt="lofi", lyrics="[verse]\nhi", variants=2)
    sent = json.loads(api.api_requests("POST", "/songs")[-1].content)
    assert sent == {"mode": "custom_lyrics", "prompt": "lofi", "lyrics": "[verse]\nhi", "variants": 2}


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "InvalidRequest", InvalidRequestError),
        (401, "Unauthorized", AuthenticationError),
        (402, "InsufficientCredits", InsufficientCreditsError),
        (403, "Forbidden", PermissionDeniedError),
        (404, "NotFound", NotFoundError),
        (413, "PayloadTooLarge", InvalidRequestError),
        (415, "UnsupportedMediaType", InvalidRequestError),
        (422, "ValidationError", InvalidRequestError),
        (429, "TooManyRequests", RateLimitError),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (418, "Teapot", ApiError),
    ],
)
def test_errors_are_typed_and_carry_the_apis_body(status: int, code: str, kind: type[ApiError]) -> None:
    details = [{"field": "body.duration_s", "message": "too short", "type": "greater_than_equal"}]
    response = error(status, code, "what the API said", details)
    raised = error_from_response(response)
    assert type(raised) is kind
    assert (raised.status, raised.code, raised.message, raised.details) == (
        status,
        code,
        "what the API said",
        details,
    )
    assert raised.to_dict() == json.loads(response.content)
    assert str(raised) == f"what the API said ({code}, HTTP {status})"


def test_a_body_that_is_not_the_apis_shape_keeps_status_and_text() -> None:
    raised = error_from_response(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert isinstance(raised, ServerError)
    assert (raised.code, raised.message) == ("HTTP502", "<html>Bad Gateway</html>")


def test_insufficient_credits_reaches_the_caller(client: Client, api: FakeApi) -> None:
    balance = {"price_credits": 2, "credits": 1, "reserved_credits": 0, "available_credits": 1}
    api.then("POST", "/songs", error(402, "InsufficientCredits", "not enough credits", balance))
    with pytest.raises(InsufficientCreditsError) as raised:
        client.create_song(BODY)
    assert raised.value.details == balance


# --- wait ----------------------------------------------------------------------------------------


def test_wait_reports_queue_position_eta_then_stages(client: Client, api: FakeApi, sleeps) -> None:
    seen: list[Progress] = []
    song = client.create_song(BODY)
    api.songs[song.job_id]["_steps"] = ["queued", "processing", "processed"]
    done = client.wait(song, on_progress=seen.append, poll_interval_s=0.25)
    assert done.status is JobStatus.processed
    assert [(p.status.value, p.queue_position, p.eta_s) for p in seen] == [
        ("queued", 2, 40),
        ("processing", None, None),
        ("processed", None, None),
    ]
    assert seen[1].stage == "generating" and seen[-1].done
    assert sleeps == [0.25, 0.25]


def test_wait_returns_a_failed_song_with_its_reason(client: Client, api: FakeApi) -> None:
    api.lifecycle = ["queued", "failed"]
    song = client.wait(client.create_song(BODY))
    assert song.status is JobStatus.failed
    assert song.error is not None and song.error.code == "GenerationFailed"


def test_wait_times_out_with_the_last_song_seen(client: Client, api: FakeApi, sleeps) -> None:
    api.lifecycle = ["queued"] * 5
    song = client.create_song(BODY)
    with pytest.raises(WaitTimeoutError) as raised:
        client.wait(song, timeout_s=0)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.last.job_id == song.job_id and raised.value.last.status is JobStatus.queued
    assert sleeps == []


# --- files ---------------------------------------------------------------------------------------


def test_download_saves_every_take_in_every_format_and_the_cover(
    client: Client, api: FakeApi, tmp_path
) -> None:
    song = client.wait(client.create_song({**BODY, "variants": 2}))
    paths = client.download(song, tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == [
        "cover.png",
        "song-take1.mp3",
        "song-take1.wav",
        "song-take2.mp3",
        "song-take2.wav",
    ]
    assert (tmp_path / "out" / "song-take2.mp3").read_bytes() == f"/{song.job_id}/take2.mp3".encode()
    assert not list((tmp_path / "out").glob("*.part"))


def test_media_files_names_one_take_stems_and_the_cover() -> None:
    song = SongDetail.model_validate(
        {
            "job_id": "s",
            "status": "processed",
            "stage": "processed",
            "mode": "stems",
            "created_at": "t",
            "updated_at": "t",
            "request": {},
            "audio_urls": {"wav": "https://s/audio.wav"},
            "tracks": {"drums": {"wav": "https://s/d.wav"}, "bass": {"flac": "https://s/b.flac"}},
            "cover_url": "https://s/x/cover.png?X-Amz-Signature=1",
        }
    )
    assert media_files(song) == {
        "song.wav": "https://s/audio.wav",
        "stem-drums.wav": "https://s/d.wav",
        "stem-bass.flac": "https://s/b.flac",
        "cover.png": "https://s/x/cover.png?X-Amz-Signature=1",
    }


def test_media_files_names_each_takes_timed_lyrics_and_a_transcriptions_midi() -> None:
    common = {
        "status": "processed",
        "stage": "processed",
        "created_at": "t",
        "updated_at": "t",
        "request": {},
    }
    takes = [
        {"take": k, "audio_urls": {"wav": f"https://s/{k}.wav"}, "lyrics_timing_url": f"https://s/{k}.lrc"}
        for k in (1, 2)
    ]
    sung = SongDetail.model_validate({**common, "job_id": "s", "mode": "description", "takes": takes})
    assert media_files(sung) == {
        "song-take1.wav": "https://s/1.wav",
        "song-take1.lrc": "https://s/1.lrc",
        "song-take2.wav": "https://s/2.wav",
        "song-take2.lrc": "https://s/2.lrc",
    }
    midi = SongDetail.model_validate(
        {**common, "job_id": "m", "mode": "transcribe", "midi_url": "https://s/t.mid"}
    )
    assert media_files(midi) == {"song.mid": "https://s/t.mid"}


def test_download_fetches_fresh_urls_when_they_expire_soon(client: Client, api: FakeApi, tmp_path) -> None:
    song = client.wait(client.create_song(BODY))
    stale = song.model_copy(update={"urls_expire_at": "2020-01-01T00:00:00+00:00"})
    gets = len(api.api_requests("GET"))
    client.download(stale, tmp_path)
    assert len(api.api_requests("GET")) == gets + 1


def test_download_of_an_unfinished_song_is_refused(client: Client, tmp_path) -> None:
    song = client.create_song(BODY)
    with pytest.raises(SongNotReadyError):
        client.download(song.job_id, tmp_path)  # one GET: processing


def test_downloads_retry_storage_hiccups(client: Client, api: FakeApi, tmp_path, sleeps) -> None:
    song = client.wait(client.create_song(BODY))
    original = api._storage
    hiccups = [httpx.Response(503, text="<Error><Code>SlowDown</Code></Error>")]
    api._storage = lambda request: hiccups.pop() if hiccups else original(request)
    sleeps.clear()
    client.download(song, tmp_path)
    assert (tmp_path / "song.wav").read_bytes() == f"/{song.job_id}/take1.wav".encode()
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0  # the policy's first backoff (base 1 s)


def test_storage_errors_name_the_file(client: Client, api: FakeApi, tmp_path) -> None:
    song = client.wait(client.create_song(BODY))
    denied = httpx.Response(
        403, text="<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
    )
    original = api._storage
    api._storage = lambda request: denied if request.method == "GET" else original(request)
    with pytest.raises(Exception, match=r"song\.wav failed: Request has expired \(AccessDenied, HTTP 403\)"):
        client.download(song, tmp_path)


# --- uploads -------------------------------------------------------------------------------------


def test_upload_posts_the_form_then_the_file_and_waits_for_the_check(
    client: Client, api: FakeApi, tmp_path: Path, sleeps
) -> None:
    track = tmp_path / "take.wav"
    track.write_bytes(b"RIFF" + b"\0" * 96)
    upload = client.upload_file(track, poll_interval_s=0.5)
    assert upload.status.value == "ready"
    create = json.loads(api.api_requests("POST", "/uploads")[0].content)
    assert create == {"filename": "take.wav", "content_type": "audio/wav", "size_bytes": 100}
    (post,) = api.storage_posts
    assert "Authorization" not in post.headers
    body = post.content
    # The form's fields, unchanged and before the file (S3 ignores fields after it).
    assert body.index(b'name="policy"') < body.index(b'name="file"; filename="take.wav"')
    assert b"p0l1cy" in body and body.endswith(b"\0" * 96 + b"\r\n" + body.split(b"\r\n")[0] + b"--\r\n")
    assert sleeps == [0.5]


def test_a_rejected_upload_raises_the_checks_reason(client: Client, api: FakeApi, tmp_path: Path) -> None:
    api.upload_checks = ["rejected"]
    track = tmp_path / "x.flac"
    track.write_bytes(b"fLaC")
    with pytest.raises(UploadRejectedError) as raised:
        client.upload_file(track)
    assert raised.value.code == "TooShort"
    assert str(raised.value) == "the track is 0.40 s long; send at least 1 s (TooShort)"
    assert raised.value.upload.status.value == "rejected"


def test_storage_refusing_the_form_is_an_upload_error(client: Client, api: FakeApi, tmp_path: Path) -> None:
    track = tmp_path / "x.mp3"
    track.write_bytes(b"ID3")
    api._storage = lambda request: httpx.Response(
        403, text="<Error><Code>AccessDenied</Code><Message>Policy Check Failed</Message></Error>"
    )
    with pytest.raises(UploadError) as raised:
        client.upload_file(track)
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        403,
        "AccessDenied",
        "Policy Check Failed",
    )


def test_an_unknown_extension_needs_a_content_type(client: Client, tmp_path: Path) -> None:
    track = tmp_path / "x.aiff"
    track.write_bytes(b"FORM")
    with pytest.raises(ValueError, match="content_type"):
        client.upload_file(track)
