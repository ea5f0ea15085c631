"""POST /uploads (presigned POST form) and GET /uploads/{id}."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import pytest
import requests

from lambdas.common.uploads import UploadRepository

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
    assert UploadRepository().find(created["upload_id"]).status.value == "pending"
