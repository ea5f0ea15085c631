"""POST /songs in the audio-in modes: sources resolved and checked before anything is charged."""

from __future__ import annotations

import uuid

import boto3
import pytest

from lambdas.common.inference import build_request
from lambdas.common.models import JobStatus
from lambdas.common.uploads import new_upload
from tests import factories
from tests.factories import put_job, put_processed_job

USER = "alice"


def ready_upload(names, user: str = USER, duration_s: float = 30.0, analysis=None) -> str:
    upload = new_upload(user, str(uuid.uuid4()), "src.wav", "audio/wav", 1000, expiry_days=7)
    repo = factories.uploads()
    repo.create(upload)
    boto3.client("s3").put_object(  # as the form stores it: tagged for the lifecycle rule
        Bucket=names.uploads_bucket, Key=upload.key, Body=b"x" * 1000, Tagging="retention=unused"
    )
    repo.mark_ready(
        upload.upload_id,
        fmt="wav",
        duration_s=duration_s,
        sample_rate=48_000,
        channels=2,
        etag="e",
        analysis=analysis,
    )
    return upload.upload_id


def pending_upload(user: str = USER) -> str:
    upload = new_upload(user, str(uuid.uuid4()), "src.wav", "audio/wav", 1000, expiry_days=7)
    factories.uploads().create(upload)
    return upload.upload_id


def body(mode: str, source: dict, **extra) -> dict:
    fields = {
        "cover": {"prompt": "jazz trio, brushed drums", "strength": 0.7},
        "repaint": {"start_s": 5.0, "end_s": 12.5, "prompt": "guitar solo"},
        "extend": {"add_s": 20.0},
        "stems": {"tracks": ["vocals", "drums"]},
    }[mode]
    return {"mode": mode, "source": source, "seed": 3, **fields, **extra}


def _jobs_of(user: str) -> list:
    return factories.jobs().list_for_user(user, 50)[0]


@pytest.mark.parametrize("mode", ["cover", "repaint", "extend", "stems"])
def test_each_mode_from_a_ready_upload_is_queued_with_its_source(api, aws_env, mode) -> None:
    upload_id = ready_upload(aws_env)
    created = api.post_song(body(mode, {"upload_id": upload_id}))
    assert created.status == 202, created.body
    assert created.body["mode"] == mode
    assert created.body["source"] == {"upload_id": upload_id, "song_id": None, "duration_s": 30.0}
    # The length the job renders (what it is priced by): extend renders the longer canvas.
    assert created.body["request"]["duration_s"] == (50.0 if mode == "extend" else 30.0)

    shown = api.call("GET", f"/songs/{created.body['job_id']}")
    assert shown.body["source"]["upload_id"] == upload_id
    job = factories.jobs().get(created.body["job_id"])
    request = build_request(job, "scratch")
    assert request["source"] == {
        "upload_id": upload_id,
        "bucket": aws_env.uploads_bucket,
        "key": f"uploads/{USER}/{upload_id}",
        "duration_s": 30.0,
    }
    assert request["mode"] == mode


def _tag(names, key: str) -> str:
    tags = boto3.client("s3").get_object_tagging(Bucket=names.uploads_bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}["retention"]


def test_a_canceled_cover_leaves_its_upload_to_expire(api, aws_env) -> None:
    """Cancelling at once (free) pinned the upload for good: no expiry, a tag no rule matches. A
    song in flight is listed on the upload, nothing more; only a processed song keeps it."""
    upload_id = ready_upload(aws_env)
    before = factories.uploads().find(upload_id)
    created = api.post_song(body("cover", {"upload_id": upload_id}))
    assert created.status == 202
    row = factories.uploads().find(upload_id)
    assert row.active_jobs == {created.body["job_id"]}
    assert api.call("POST", f"/songs/{created.body['job_id']}/cancel").status == 200
    row = factories.uploads().find(upload_id)
    assert not row.used and not row.songs
    assert (row.expires_at, row.expires_at_epoch) == (before.expires_at, before.expires_at_epoch)
    assert _tag(aws_env, row.key) == "unused"
    assert api.call("GET", f"/uploads/{upload_id}").body["expires_at"] == before.expires_at


def _processed_from(names, upload_id: str):
    """A processed song made from the upload, kept by it as the workflow's finalize step does."""
    from lambdas.common.models import JobSource
    from lambdas.common.store.dynamo import to_dynamo
    from lambdas.common.store.uploads import sync_retention_tag

    song = put_processed_job(USER)
    source = JobSource(
        upload_id=upload_id, bucket=names.uploads_bucket, key=f"uploads/{USER}/{upload_id}", duration_s=30.0
    )
    boto3.resource("dynamodb").Table(names.jobs_table).update_item(
        Key={"job_id": song.job_id},
        UpdateExpression="SET #src = :s",
        ExpressionAttributeNames={"#src": "source"},
        ExpressionAttributeValues={":s": to_dynamo(source.model_dump(exclude_none=True))},
    )
    uploads = factories.uploads()
    assert uploads.keep_for_song(upload_id, song.job_id)
    sync_retention_tag(uploads, factories.upload_objects(), upload_id)
    return song


def test_a_processed_song_keeps_its_upload_until_it_is_deleted(api, aws_env) -> None:
    upload_id = ready_upload(aws_env)
    before = factories.uploads().find(upload_id)
    first, second = _processed_from(aws_env, upload_id), _processed_from(aws_env, upload_id)
    kept = factories.uploads().find(upload_id)
    assert kept.used and kept.songs == {first.job_id, second.job_id}
    assert kept.expires_at is None and kept.expires_at_epoch is None
    assert _tag(aws_env, kept.key) == "used"
    assert api.call("GET", f"/uploads/{upload_id}").body["expires_at"] is None

    assert api.call("DELETE", f"/songs/{first.job_id}").status == 204
    assert factories.uploads().find(upload_id).expires_at is None  # the other song still keeps it
    assert _tag(aws_env, kept.key) == "used"
    assert api.call("DELETE", f"/songs/{second.job_id}").status == 204
    row = factories.uploads().find(upload_id)
    # Back on the schedule S3's rule counts from the upload's creation.
    assert not row.used and not row.songs
    assert (row.expires_at, row.expires_at_epoch) == (before.expires_at, before.expires_at_epoch)
    assert _tag(aws_env, row.key) == "unused"


def test_a_processed_song_of_the_user_is_a_source(api, aws_env) -> None:
    song = put_processed_job(USER)
    created = api.post_song(body("extend", {"song_id": song.job_id}))
    assert created.status == 202, created.body
    job = factories.jobs().get(created.body["job_id"])
    assert job.source.song_id == song.job_id and job.source.duration_s == 30.0
    # The lossless file of the song is read, from the media bucket.
    assert (job.source.bucket, job.source.key) == (
        aws_env.media_bucket,
        f"songs/{USER}/{song.job_id}/audio.wav",
    )


def test_a_song_with_variants_is_a_source_by_its_first_take(api, aws_env) -> None:
    song = put_processed_job(USER, takes=3)
    created = api.post_song(body("cover", {"song_id": song.job_id}))
    assert created.status == 202, created.body
    job = factories.jobs().get(created.body["job_id"])
    assert job.source.key == f"songs/{USER}/{song.job_id}/audio.wav"


def _refused(api, request: dict, status: int, code: str, user: str = USER) -> dict:
    before = factories.users().get_or_create(user, 10)
    jobs_before = len(_jobs_of(user))
    result = api.post_song(request, user=user)
    assert result.status == status, result.body
    assert result.error_code == code
    # Nothing written, nothing reserved or charged.
    assert len(_jobs_of(user)) == jobs_before
    assert factories.users().get_or_create(user, 10) == before
    return result.body["error"]


def test_someone_elses_upload_or_song_is_404(api, aws_env) -> None:
    theirs = ready_upload(aws_env, user="bob")
    their_song = put_processed_job("bob")
    _refused(api, body("cover", {"upload_id": theirs}), 404, "NotFound")
    _refused(api, body("cover", {"song_id": their_song.job_id}), 404, "NotFound")
    _refused(api, body("cover", {"upload_id": str(uuid.uuid4())}), 404, "NotFound")


def test_a_pending_upload_is_409_with_what_to_do(api, aws_env) -> None:
    error = _refused(api, body("repaint", {"upload_id": pending_upload()}), 409, "SourceNotReady")
    assert "not been checked yet" in error["message"] and error["details"]["status"] == "pending"


def test_a_rejected_upload_is_422_with_its_reason(api, aws_env) -> None:
    upload_id = pending_upload()
    factories.uploads().mark_rejected(
        upload_id, "TooLong", "the track is 12:00 long; tracks up to 10:00 are accepted"
    )
    error = _refused(api, body("cover", {"upload_id": upload_id}), 422, "SourceUnusable")
    assert (
        error["message"]
        == "the upload was rejected: the track is 12:00 long; tracks up to 10:00 are accepted"
    )


def test_a_song_still_being_made_is_409_and_a_failed_one_422(api, aws_env) -> None:
    queued = put_job(USER, JobStatus.QUEUED)
    _refused(api, body("cover", {"song_id": queued.job_id}), 409, "SourceNotReady")
    failed = put_job(USER, JobStatus.FAILED)
    _refused(api, body("cover", {"song_id": failed.job_id}), 422, "SourceUnusable")


def test_windows_and_lengths_must_fit_the_source(api, aws_env) -> None:
    upload_id = ready_upload(aws_env, duration_s=30.0)
    error = _refused(api, body("repaint", {"upload_id": upload_id}, end_s=31.0), 422, "ValidationError")
    assert error["details"][0]["field"] == "body.end_s" and "30.00 s long" in error["details"][0]["message"]
    long_upload = ready_upload(aws_env, duration_s=590.0)
    error = _refused(api, body("extend", {"upload_id": long_upload}, add_s=20.0), 422, "ValidationError")
    assert error["details"][0]["field"] == "body.add_s" and "at most 10.00" in error["details"][0]["message"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        (body("cover", {}), "body.source"),
        (body("cover", {"upload_id": str(uuid.uuid4()), "song_id": str(uuid.uuid4())}), "body.source"),
        (body("cover", {"upload_id": "../../etc"}), "body.source.upload_id"),
        (body("cover", {"upload_id": str(uuid.uuid4())}, strength=1.5), "body.strength"),
        (body("repaint", {"upload_id": str(uuid.uuid4())}, start_s=10.0, end_s=10.5), "body.end_s"),
        (body("stems", {"upload_id": str(uuid.uuid4())}, tracks=["vocals", "vocals"]), "body.tracks"),
        (body("stems", {"upload_id": str(uuid.uuid4())}, tracks=["kazoo"]), "body.tracks.0"),
        (body("extend", {"upload_id": str(uuid.uuid4())}, add_s=1.0), "body.add_s"),
        (body("cover", {"upload_id": str(uuid.uuid4())}, variants=5), "body.variants"),
        # A separation of the source has no takes: stems do not take the field at all.
        (body("stems", {"upload_id": str(uuid.uuid4())}, variants=2), "body.variants"),
    ],
)
def test_malformed_audio_in_requests_are_422_per_field(api, aws_env, request_body, field) -> None:
    result = api.post_song(request_body)
    assert result.status == 422, result.body
    assert any(d["field"] == field for d in result.body["error"]["details"]), result.body


def test_stems_switched_off_are_refused_clearly(api, aws_env, monkeypatch) -> None:
    from lambdas.common import runtime

    monkeypatch.setenv("STEMS_ENABLED", "false")
    runtime.reset_all()
    error = _refused(api, body("stems", {"upload_id": ready_upload(aws_env)}), 422, "ModeUnavailable")
    assert "stems are not available" in error["message"]


def test_stems_render_the_source_length_once_per_track() -> None:
    from lambdas.api.services.sources import rendered_duration_s
    from lambdas.common.models import JobSource, StemsRequest
    from lambdas.common.pricing import request_price

    source = JobSource(upload_id=str(uuid.uuid4()), bucket="b", key="k", duration_s=61.0)
    stems = StemsRequest.model_validate(
        {"mode": "stems", "source": {"upload_id": source.upload_id}, "tracks": ["vocals", "drums", "bass"]}
    )
    assert rendered_duration_s(stems, source) == 61.0
    # Two started minutes, three tracks.
    request = {**stems.model_dump(mode="json"), "duration_s": 61.0}
    assert request_price(request, credits_per_minute=1, transcribe_credits=1) == 6


@pytest.mark.parametrize("mode", ["cover", "repaint", "extend"])
def test_audio_in_variants_are_priced_per_take(api, aws_env, mode) -> None:
    single = api.post_song(body(mode, {"upload_id": ready_upload(aws_env)})).body["price_credits"]
    takes = api.post_song(body(mode, {"upload_id": ready_upload(aws_env)}, variants=3))
    assert takes.status == 202 and takes.body["price_credits"] == 3 * single


# --- the upload's analysis: shown on the upload, the default tempo and key of what is made from it ---


def _analysis(**fields):
    from lambdas.common.measurements import TakeAnalysis

    measured = {
        "duration_s": 30.0,
        "loudness_lufs": -11.52,
        "true_peak_dbtp": -0.4,
        "bpm": 127.6,
        "key": "F# minor",
        "key_confidence": 0.81,
    }
    return TakeAnalysis(**(measured | fields))


def test_a_ready_upload_shows_its_analysis_and_a_pending_one_none(api, aws_env) -> None:
    upload_id = ready_upload(aws_env, analysis=_analysis())
    shown = api.call("GET", f"/uploads/{upload_id}")
    assert shown.status == 200
    assert shown.body["analysis"] == _analysis().model_dump()
    assert api.call("GET", f"/uploads/{pending_upload()}").body["analysis"] is None
    # Ready without one (the analyzer failed): usable all the same.
    unmeasured = ready_upload(aws_env)
    assert api.call("GET", f"/uploads/{unmeasured}").body["analysis"] is None
    assert api.post_song(body("cover", {"upload_id": unmeasured})).status == 202


def _rendered_with(created) -> tuple:
    job = factories.jobs().get(created.body["job_id"])
    request = build_request(job, "scratch")
    return request.get("bpm"), request.get("key")


@pytest.mark.parametrize("mode", ["cover", "repaint", "extend"])
def test_the_uploads_tempo_and_key_are_the_default(api, aws_env, mode) -> None:
    upload_id = ready_upload(aws_env, analysis=_analysis())
    created = api.post_song(body(mode, {"upload_id": upload_id}))
    assert created.status == 202, created.body
    assert (created.body["request"]["bpm"], created.body["request"]["key"]) == (128, "F# minor")
    assert _rendered_with(created) == (128, "F# minor")  # what the container is told


def test_the_request_wins_over_the_uploads_analysis(api, aws_env) -> None:
    upload_id = ready_upload(aws_env, analysis=_analysis())
    both = api.post_song(body("cover", {"upload_id": upload_id}, bpm=90, key="C major"))
    assert _rendered_with(both) == (90, "C major")
    tempo_only = api.post_song(body("extend", {"upload_id": upload_id}, bpm=100))
    assert _rendered_with(tempo_only) == (100, "F# minor")


def test_nothing_measured_adds_nothing(api, aws_env) -> None:
    """No analysis, or a tempo or key the analysis could not find (or outside what a request may
    ask: a tempo out of range, a key spelled otherwise, which the container would refuse)."""
    for analysis in (
        None,
        _analysis(bpm=None, key=None),
        _analysis(bpm=340.2, key=None),
        _analysis(bpm=None, key="F-sharp minor"),
    ):
        upload_id = ready_upload(aws_env, analysis=analysis)
        created = api.post_song(body("cover", {"upload_id": upload_id}))
        assert created.status == 202, created.body
        assert _rendered_with(created) == (None, None)


def test_stems_take_no_tempo_or_key(api, aws_env) -> None:
    upload_id = ready_upload(aws_env, analysis=_analysis())
    created = api.post_song(body("stems", {"upload_id": upload_id}))
    assert created.status == 202, created.body
    assert _rendered_with(created) == (None, None)


def test_bpm_and_key_are_checked_on_audio_in_modes_too(api, aws_env) -> None:
    upload_id = ready_upload(aws_env, analysis=_analysis())
    for bad in ({"bpm": 12}, {"key": "H major"}, {"bpm": "120"}):
        refused = api.post_song(body("cover", {"upload_id": upload_id}, **bad))
        assert refused.status == 422, (bad, refused.body)
    assert api.post_song(body("stems", {"upload_id": upload_id}, bpm=120)).status == 422  # not a stems field


def test_a_source_songs_measured_tempo_and_key_are_the_default(api, aws_env) -> None:
    """A song asked for no tempo or key: its best take's measurements (factories: 90 BPM, A minor)."""
    song = put_processed_job(USER)
    created = api.post_song(body("cover", {"song_id": song.job_id}))
    assert created.status == 202, created.body
    assert _rendered_with(created) == (90, "A minor")
