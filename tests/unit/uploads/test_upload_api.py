"""POST /uploads (presigned POST form) and GET /uploads/{id}."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import pytest
import requests

from tests import factories

from .conftest import audio_bytes


def _policy(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_form_pins_key_type_size_and_tag(api) -> None:
    created = api.call(
        "POST", "/uploads", body={"filename": "demo.wav", "content_type": "audio/wav", "size_bytes": 1234}
    )
    assert created.status == 201, created.body
    body = created.body
    fields = body["fields"]
    assert fields["key"] == f"uploads/alice/{body['upload_id']}"
    assert fields["Content-Type"] == "audio/wav"
    conditions = _policy(fields)["conditions"]
    assert {"key": fields["key"]} in conditions
    assert {"Content-Type": "audio/wav"} in conditions
    assert ["content-length-range", 1234, 1234] in conditions
    assert {"tagging": fields["tagging"]} in conditions and "<Value>unused</Value>" in fields["tagging"]
    assert body["max_duration_s"] == 600 and body["expires_at"].endswith("Z")

    shown = api.call("GET", f"/uploads/{body['upload_id']}")
    assert shown.status == 200
    assert shown.body["status"] == "pending" and shown.body["filename"] == "demo.wav"
    assert shown.body["duration_s"] is None and shown.body["expires_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "a.txt", "content_type": "text/plain", "size_bytes": 10}, "body.content_type"),
        (
            {"filename": "big.wav", "content_type": "audio/wav", "size_bytes": 50 * 1024 * 1024 + 1},
            "body.size_bytes",
        ),
        ({"filename": "empty.wav", "content_type": "audio/wav", "size_bytes": 0}, "body.size_bytes"),
        ({"filename": "", "content_type": "audio/wav", "size_bytes": 10}, "body.filename"),
        # An unknown field is refused without echoing its name (the API's no-echo rule).
        ({"filename": "a.wav", "content_type": "audio/wav", "size_bytes": 10, "key": "x"}, "body"),
    ],
)
def test_bad_declarations_are_422_with_the_field(api, body, field) -> None:
    result = api.call("POST", "/uploads", body=body)
    assert result.status == 422, result.body
    assert field in [d["field"] for d in result.body["error"]["details"]]


def test_another_users_upload_is_404_like_a_missing_one(api) -> None:
    created = api.call(
        "POST", "/uploads", body={"filename": "a.flac", "content_type": "audio/flac", "size_bytes": 9}
    )
    upload_id = created.body["upload_id"]
    assert api.call("GET", f"/uploads/{upload_id}", user="mallory").status == 404
    assert api.call("GET", f"/uploads/{uuid.uuid4()}").status == 404
    assert api.call("GET", "/uploads/not-a-uuid").status == 400


def test_the_form_uploads_the_file_to_the_users_key(api, aws_env) -> None:
    """The browser's side: POST the fields and the file to the URL; the object lands, typed and sized."""
    data = audio_bytes("flac")
    created = api.call(
        "POST", "/uploads", body={"filename": "t.flac", "content_type": "audio/flac", "size_bytes": len(data)}
    ).body
    response = requests.post(
        created["url"], data=created["fields"], files={"file": ("t.flac", data, "audio/flac")}, timeout=10
    )
    assert response.status_code == 204
    head = boto3.client("s3").head_object(Bucket=aws_env.uploads_bucket, Key=created["fields"]["key"])
    assert head["ContentLength"] == len(data)
    assert factories.uploads().find(created["upload_id"]).status.value == "pending"


def _form(api, user: str = "alice") -> str:
    body = {"filename": "a.wav", "content_type": "audio/wav", "size_bytes": 1000}
    created = api.call("POST", "/uploads", body=body, user=user)
    assert created.status == 201, created.body
    return created.body["upload_id"]


def test_delete_removes_the_row_and_the_file(api, aws_env) -> None:
    from .test_audio_in_songs import ready_upload

    upload_id = ready_upload(aws_env)
    key = factories.uploads().find(upload_id).key
    assert api.call("DELETE", f"/uploads/{upload_id}", user="mallory").status == 404  # not theirs
    assert api.call("DELETE", f"/uploads/{upload_id}").status == 204
    assert factories.uploads().find(upload_id) is None
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=aws_env.uploads_bucket, Prefix=key)
    assert api.call("GET", f"/uploads/{upload_id}").status == 404
    assert api.call("DELETE", f"/uploads/{upload_id}").status == 404
    assert api.call("DELETE", f"/uploads/{uuid.uuid4()}").status == 404
    assert api.call("DELETE", "/uploads/not-a-uuid").status == 400


def test_an_upload_a_song_is_being_made_from_is_a_409_until_the_song_ends(api, aws_env) -> None:
    from .test_audio_in_songs import body, ready_upload

    upload_id = ready_upload(aws_env)
    job_id = api.post_song(body("cover", {"upload_id": upload_id})).body["job_id"]
    refused = api.call("DELETE", f"/uploads/{upload_id}")
    assert (refused.status, refused.error_code) == (409, "UploadInUse")
    assert refused.body["error"]["details"] == {"upload_id": upload_id, "song_ids": [job_id]}
    assert api.call("POST", f"/songs/{job_id}/cancel").status == 200
    assert api.call("DELETE", f"/uploads/{upload_id}").status == 204
    # The song keeps its record of where it came from.
    assert api.call("GET", f"/songs/{job_id}").body["source"]["upload_id"] == upload_id


def test_pending_uploads_are_limited_per_user_with_retry_after(api, monkeypatch) -> None:
    from lambdas.common import runtime

    monkeypatch.setenv("UPLOAD_MAX_PENDING", "2")
    runtime.reset_all()
    first = _form(api)
    _form(api)
    refused = api.call(
        "POST", "/uploads", body={"filename": "c.wav", "content_type": "audio/wav", "size_bytes": 10}
    )
    assert (refused.status, refused.error_code) == (429, "TooManyPendingUploads")
    assert refused.headers["Retry-After"] == "60"
    assert refused.body["error"]["details"] == {"pending": 2, "limit": 2}
    _form(api, user="bob")  # another user's quota is their own
    assert api.call("DELETE", f"/uploads/{first}").status == 204  # an abandoned form can be dropped
    _form(api)


def test_stored_uploads_are_limited_per_user_and_deleting_makes_room(api, aws_env, monkeypatch) -> None:
    from lambdas.common import runtime

    from .test_audio_in_songs import ready_upload

    monkeypatch.setenv("UPLOAD_MAX_STORED", "2")
    runtime.reset_all()
    stored = [ready_upload(aws_env), ready_upload(aws_env)]
    refused = api.call(
        "POST", "/uploads", body={"filename": "c.wav", "content_type": "audio/wav", "size_bytes": 10}
    )
    assert (refused.status, refused.error_code) == (409, "UploadQuotaExceeded")
    assert "DELETE /uploads/{upload_id}" in refused.body["error"]["message"]
    assert api.call("DELETE", f"/uploads/{stored[0]}").status == 204
    _form(api)


def test_expired_uploads_do_not_count(api, aws_env, monkeypatch) -> None:
    from lambdas.common import runtime

    from .test_audio_in_songs import ready_upload

    monkeypatch.setenv("UPLOAD_MAX_STORED", "1")
    runtime.reset_all()
    upload_id = ready_upload(aws_env)
    boto3.resource("dynamodb").Table(aws_env.uploads_table).update_item(
        Key={"upload_id": upload_id},
        UpdateExpression="SET expires_at_epoch = :past",
        ExpressionAttributeValues={":past": 1},
    )  # TTL has not removed the row yet
    _form(api)
