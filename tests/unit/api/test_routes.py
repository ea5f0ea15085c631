"""Every route, the happy paths and user isolation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from lambdas.common import media_keys
from lambdas.common.models import JobStatus
from lambdas.common.store.ledger import CreditLedger
from tests import factories
from tests.factories import put_job, put_processed_job


def test_health_needs_no_identity(api) -> None:
    result = api.call("GET", "/health", user=None)
    assert (result.status, result.body) == (200, {"status": "ok"})


def test_me_creates_the_user_with_signup_credits(api) -> None:
    first = api.call("GET", "/me", user="carol")
    assert (first.status, first.body) == (
        200,
        {"user_id": "carol", "credits": 10, "reserved_credits": 0, "available_credits": 10},
    )
    factories.ledger().add_credits("carol", -4)
    assert api.call("GET", "/me", user="carol").body["credits"] == 6


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "description", "description": "an upbeat synthwave song about night drives"},
        {"mode": "custom_lyrics", "prompt": "acoustic folk, warm", "lyrics": "[verse]\nhello road"},
        {
            "mode": "described_lyrics",
            "prompt": "punk rock, fast",
            "described_lyrics": "a song about missing the last bus",
            "instrumental": False,
            "duration_s": 60,
            "seed": 7,
            "guidance_scale": 7.5,
            "inference_steps": 30,
            "formats": ["mp3", "flac"],
            "title": "Last Bus",
        },
    ],
)
def test_post_song_queues_a_job_and_starts_the_workflow(api, state_machine_arn, body) -> None:
    result = api.post_song(body)
    assert result.status == 202, result.body
    job_id = result.body["job_id"]
    assert result.body["status"] == "queued"
    assert result.body["mode"] == body["mode"]

    row = factories.jobs().get(job_id)
    assert row.user_id == "alice"
    assert row.status is JobStatus.QUEUED
    assert row.request["mode"] == body["mode"]
    assert row.request["duration_s"] == body.get("duration_s", 180)

    sfn = boto3.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    assert execution["name"] == job_id
    assert row.execution_arn == execution["executionArn"]
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["input"] == f'{{"job_id": "{job_id}", "user_id": "alice"}}'


def test_post_song_reserves_the_price_and_charges_nothing(api, song_body) -> None:
    song = api.post_song(song_body).body  # 180 s by default: three started minutes
    assert song["price_credits"] == 3
    assert api.call("GET", f"/songs/{song['job_id']}").body["price_credits"] == 3
    assert api.call("GET", "/me").body == {
        "user_id": "alice",
        "credits": 10,
        "reserved_credits": 3,
        "available_credits": 7,
    }


def test_variants_are_priced_per_take(api, song_body) -> None:
    song = api.post_song({**song_body, "duration_s": 60, "variants": 4}).body
    assert song["price_credits"] == 4 and song["request"]["variants"] == 4
    assert api.call("GET", "/me").body["reserved_credits"] == 4
    assert api.post_song(song_body).body["request"]["variants"] == 1  # the default


@pytest.mark.parametrize("variants", [0, 5, 2.5, "2", True])
def test_variants_outside_1_to_4_are_refused(api, song_body, variants) -> None:
    refused = api.post_song({**song_body, "variants": variants})
    assert (refused.status, refused.error_code) == (422, "ValidationError")
    assert api.call("GET", "/songs").body["songs"] == []


@pytest.mark.parametrize(
    ("mastering", "stored"),
    [
        (None, None),  # the model's raw level
        ({}, {"loudness_lufs": -14.0, "true_peak_dbtp": -1.0}),
        ({"loudness_lufs": -23}, {"loudness_lufs": -23, "true_peak_dbtp": -1.0}),
        ({"loudness_lufs": -6.0, "true_peak_dbtp": 0}, {"loudness_lufs": -6.0, "true_peak_dbtp": 0}),
    ],
)
def test_mastering_is_stored_with_its_defaults_for_the_container(api, song_body, mastering, stored) -> None:
    song = api.post_song({**song_body, "mastering": mastering}).body
    assert song["request"]["mastering"] == stored
    assert factories.jobs().get(song["job_id"]).request["mastering"] == stored
    default = api.post_song(song_body).body["request"]["mastering"]  # absent: the default level
    assert default == {"loudness_lufs": -14.0, "true_peak_dbtp": -1.0}


@pytest.mark.parametrize(
    ("mastering", "field"),
    [
        ({"loudness_lufs": -24}, "mastering.loudness_lufs"),
        ({"loudness_lufs": -5.9}, "mastering.loudness_lufs"),
        ({"true_peak_dbtp": 0.5}, "mastering.true_peak_dbtp"),
        ({"true_peak_dbtp": -3.1}, "mastering.true_peak_dbtp"),
        ({"true_peak_dbtp": "-1"}, "mastering.true_peak_dbtp"),
        ({"ceiling": -1}, "mastering"),  # an unknown field (its name is not echoed)
        ("loud", "mastering"),
    ],
)
def test_mastering_outside_its_ranges_is_refused(api, song_body, mastering, field) -> None:
    refused = api.post_song({**song_body, "mastering": mastering})
    assert (refused.status, refused.error_code) == (422, "ValidationError")
    assert any(d["field"].endswith(field) for d in refused.body["error"]["details"]), refused.body
    assert api.call("GET", "/songs").body["songs"] == []


def test_a_user_cannot_queue_more_songs_than_the_credits_pay_for(api, song_body) -> None:
    """One credit, one-minute songs: the first is accepted, the next ones are 402 until it ends."""
    factories.users().get_or_create("alice", signup_credits=1)
    short = {**song_body, "duration_s": 60}
    assert api.post_song(short).status == 202
    for _ in range(3):
        refused = api.post_song(short)
        assert (refused.status, refused.error_code) == (402, "InsufficientCredits")
        assert "1 credits and you have 0 available" in refused.body["error"]["message"]
        assert refused.body["error"]["details"]["reserved_credits"] == 1
    assert len(api.call("GET", "/songs").body["songs"]) == 1
    longer = api.post_song({**song_body, "duration_s": 600})
    assert longer.body["error"]["details"]["price_credits"] == 10


def test_list_is_newest_first_and_paginates(api) -> None:
    created = [put_job("alice", created_at=f"2026-01-{day:02d}T00:00:00.000Z") for day in range(1, 8)]
    put_job("bob")
    seen, token, pages = [], None, 0
    while True:
        query = {"limit": "3", **({"next_token": token} if token else {})}
        page = api.call("GET", "/songs", query=query)
        assert page.status == 200, page.body
        seen += [song["job_id"] for song in page.body["songs"]]
        pages += 1
        token = page.body["next_token"]
        if not token:
            break
    assert seen == [job.job_id for job in reversed(created)]
    assert pages >= 3


def test_list_default_limit_is_20(api) -> None:
    for day in range(1, 23):
        put_job("alice", created_at=f"2026-02-{day:02d}T00:00:00.000Z")
    page = api.call("GET", "/songs")
    assert len(page.body["songs"]) == 20
    assert page.body["next_token"]


def test_next_token_of_another_user_is_rejected(api) -> None:
    for _ in range(3):
        put_job("bob")
    token = api.call("GET", "/songs", user="bob", query={"limit": "1"}).body["next_token"]
    result = api.call("GET", "/songs", user="alice", query={"next_token": token})
    assert (result.status, result.error_code) == (400, "InvalidRequest")


def test_get_queued_song_has_no_urls(api) -> None:
    job = put_job("alice")
    result = api.call("GET", f"/songs/{job.job_id}")
    assert result.status == 200
    assert result.body["status"] == "queued"
    assert result.body["audio_url"] is None
    assert result.body["cover_url"] is None


def test_get_processed_song_has_presigned_urls_for_one_hour(api, aws_env) -> None:
    job = put_processed_job("alice")
    body = api.call("GET", f"/songs/{job.job_id}").body
    assert body["status"] == "processed"
    assert set(body["audio_urls"]) == {"mp3", "wav"}
    assert body["audio_url"] == body["audio_urls"]["mp3"]
    for url, key in [
        (body["audio_urls"]["wav"], media_keys.audio_key("alice", job.job_id, "wav")),
        (body["cover_url"], media_keys.cover_key("alice", job.job_id)),
    ]:
        parsed = urlparse(url)
        assert parsed.path.endswith(key)
        assert parse_qs(parsed.query)["X-Amz-Expires"] == ["3600"]
    assert body["lyrics"].startswith("[verse]")
    assert body["prompt"] == "lofi, chill"
    assert body["categories"] == ["lofi", "chill", "hip hop"]
    assert (body["seed"], body["duration_s"]) == (42, 30.0)
    assert body["urls_expire_at"].endswith("Z")


def test_a_song_with_variants_lists_every_take_with_its_seed_and_urls(api, aws_env) -> None:
    job = put_processed_job("alice", takes=2)
    body = api.call("GET", f"/songs/{job.job_id}").body
    assert [(t["take"], t["seed"]) for t in body["takes"]] == [(1, 42), (2, 43)]
    first, second = body["takes"]
    assert first["audio_urls"] == body["audio_urls"] and first["audio_url"] == body["audio_url"]
    assert set(second["audio_urls"]) == {"mp3", "wav"} and second["audio_url"] == second["audio_urls"]["mp3"]
    key = media_keys.audio_key("alice", job.job_id, "wav", take=2)
    assert key.endswith("/audio-take2.wav") and urlparse(second["audio_urls"]["wav"]).path.endswith(key)
    assert body["seed"] == 42


def test_a_songs_takes_carry_rank_measurements_and_timed_lyrics(api, aws_env) -> None:
    job = put_processed_job("alice", takes=3, best_take=2)
    body = api.call("GET", f"/songs/{job.job_id}").body
    assert body["best_take"] == 2
    assert [(t["take"], t["rank"]) for t in body["takes"]] == [(1, 2), (2, 1), (3, 3)]
    best = body["takes"][1]
    # The song's own audio is its best take's, not take 1's.
    assert body["audio_urls"] == best["audio_urls"] and body["audio_url"] == best["audio_url"]
    assert urlparse(body["audio_url"]).path.endswith(media_keys.audio_key("alice", job.job_id, "mp3", take=2))
    assert best["analysis"] == {
        "duration_s": 30.0,
        "loudness_lufs": -14.0,
        "true_peak_dbtp": -1.2,
        "bpm": 90.0,
        "key": "A minor",
        "key_confidence": 0.6,
    }
    assert best["scores"] == {"text_audio": 0.3, "lyrics_accuracy": 0.7, "bpm_error": None, "key_match": None}
    for take in body["takes"]:
        url = urlparse(take["lyrics_timing_url"])
        assert url.path.endswith(media_keys.lyrics_timing_key("alice", job.job_id, take["take"]))
        assert parse_qs(url.query)["X-Amz-Expires"] == ["3600"]
    assert media_keys.lyrics_timing_key("alice", job.job_id, 2).endswith("/lyrics-take2.lrc")


def test_a_song_from_before_measuring_has_null_measurements(api, aws_env) -> None:
    job = put_processed_job("alice", takes=2)
    result = job.result.model_copy(update={"takes": [], "best_take": None})
    factories.jobs().delete(job.job_id, "alice")
    factories.put_job("alice", JobStatus.PROCESSED, job_id=job.job_id, result=result)
    body = api.call("GET", f"/songs/{job.job_id}").body
    assert body["best_take"] is None and body["audio_url"] == body["takes"][0]["audio_url"]
    unmeasured = [(t["rank"], t["analysis"], t["lyrics_timing_url"]) for t in body["takes"]]
    assert unmeasured == [(None, None, None)] * 2


def test_delete_removes_row_and_media(api, aws_env) -> None:
    job = put_processed_job("alice", takes=2)
    other = put_processed_job("alice")
    assert job.result.takes[1].lyrics_timing_key.endswith("lyrics-take2.lrc")  # deleted with the rest
    result = api.call("DELETE", f"/songs/{job.job_id}")
    assert (result.status, result.body) == (204, None)
    assert factories.jobs().find(job.job_id) is None
    listed = boto3.client("s3").list_objects_v2(Bucket=aws_env.media_bucket, Prefix="songs/alice/")
    keys = {obj["Key"] for obj in listed.get("Contents", [])}
    assert keys and all(key.startswith(f"songs/alice/{other.job_id}/") for key in keys)
    assert api.call("GET", f"/songs/{job.job_id}").status == 404


def test_delete_failed_song_is_allowed(api) -> None:
    job = put_job("alice", JobStatus.FAILED)
    assert api.call("DELETE", f"/songs/{job.job_id}").status == 204


def test_delete_releases_only_a_held_reservation(api, aws_env, song_body, monkeypatch) -> None:
    released: list[str] = []
    real = CreditLedger.release_reservation

    def spy(self, job_id):
        released.append(job_id)
        return real(self, job_id)

    monkeypatch.setattr(CreditLedger, "release_reservation", spy)
    processed = put_processed_job("alice")  # nothing held
    assert api.call("DELETE", f"/songs/{processed.job_id}").status == 204
    assert released == []
    # Canceled, and no reaper has run yet: the price is still held on the user.
    canceled = api.post_song(song_body).body["job_id"]
    api.call("POST", f"/songs/{canceled}/cancel")
    assert factories.users().get_or_create("alice", 0).reserved_credits > 0
    assert api.call("DELETE", f"/songs/{canceled}").status == 204
    assert released == [canceled]
    assert factories.users().get_or_create("alice", 0).reserved_credits == 0


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.PROCESSING])
def test_delete_running_song_is_conflict_and_keeps_it(api, status) -> None:
    job = put_job("alice", status)
    result = api.call("DELETE", f"/songs/{job.job_id}")
    assert (result.status, result.error_code) == (409, "JobStateConflict")
    assert factories.jobs().find(job.job_id) is not None


def test_other_users_song_is_404_on_get_and_delete(api, aws_env) -> None:
    job = put_processed_job("bob")
    for method in ("GET", "DELETE"):
        result = api.call(method, f"/songs/{job.job_id}", user="mallory")
        assert (result.status, result.error_code) == (404, "NotFound")
    assert factories.jobs().find(job.job_id) is not None
    listed = boto3.client("s3").list_objects_v2(
        Bucket=aws_env.media_bucket, Prefix=f"songs/bob/{job.job_id}/"
    )
    assert listed["KeyCount"] == 4  # 2 audio, timed lyrics, cover
    assert api.call("GET", "/songs", user="mallory").body["songs"] == []


def test_missing_song_is_404(api) -> None:
    result = api.call("GET", "/songs/00000000-0000-4000-8000-000000000000")
    assert (result.status, result.error_code) == (404, "NotFound")


def test_cors_headers_for_a_browser_origin(api) -> None:
    result = api.call("GET", "/me", headers={"Origin": "https://app.example.com"})
    assert result.headers["Access-Control-Allow-Origin"] == "*"


def test_a_204_has_no_body_and_no_content_type(api, aws_env) -> None:
    """A body on a 204 (`null`, as Powertools serializes None) is read by a keep-alive client as
    the start of its next response: the contract fuzzer's stateful run broke on exactly that."""
    from lambdas.api import handler

    from .conftest import FakeContext, proxy_event

    job = put_processed_job("alice")
    response = handler.lambda_handler(proxy_event("DELETE", f"/songs/{job.job_id}"), FakeContext())
    assert response["statusCode"] == 204
    assert not response.get("body")
    headers = {**(response.get("headers") or {}), **(response.get("multiValueHeaders") or {})}
    assert "Content-Type" not in headers
