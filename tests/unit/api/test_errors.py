"""Bad input gets a JSON error with field details and writes nothing; the error shape is uniform."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from lambdas.api import app, routes
from lambdas.common.models import MAX_DESCRIPTION_CHARS, MAX_LYRICS_CHARS
from tests import factories

VALID = {"mode": "description", "description": "an upbeat synthwave song about night drives"}


def _nothing_written(aws_env, state_machine_arn) -> None:
    jobs = boto3.client("dynamodb").scan(TableName=aws_env.jobs_table)["Items"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)
    assert jobs == []
    assert executions["executions"] == []


def _fields(result) -> set[str]:
    return {detail["field"] for detail in result.body["error"]["details"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "duration_s": "long"}, "body.duration_s"),  # wrong type
        ({**VALID, "instrumental": "maybe"}, "body.instrumental"),
        ({**VALID, "formats": "mp3"}, "body.formats"),
        ({**VALID, "colour": "blue"}, "body"),  # unknown field: its name is not echoed
        ({"mode": "custom_lyrics", "prompt": "folk, warm"}, "body.lyrics"),  # missing mode field
        ({"mode": "described_lyrics", "described_lyrics": "a bus"}, "body.prompt"),
        ({"description": "no mode given at all"}, "body"),
        ({"mode": "remix", "description": "unknown mode"}, "body"),
        ({**VALID, "duration_s": 9}, "body.duration_s"),  # out of range
        ({**VALID, "duration_s": 601}, "body.duration_s"),
        ({**VALID, "guidance_scale": 16}, "body.guidance_scale"),
        ({**VALID, "bpm": 301}, "body.bpm"),
        ({**VALID, "key": "C"}, "body.key"),
        ({**VALID, "time_signature": 5}, "body.time_signature"),
        ({**VALID, "vocal_language": "english"}, "body.vocal_language"),
        ({**VALID, "inference_steps": 0}, "body.inference_steps"),
        ({**VALID, "seed": -1}, "body.seed"),
        ({**VALID, "formats": []}, "body.formats"),
        ({**VALID, "formats": ["ogg"]}, "body.formats.0"),
        ({**VALID, "formats": ["mp3", "mp3"]}, "body.formats"),
        ({**VALID, "description": "x" * (MAX_DESCRIPTION_CHARS + 1)}, "body.description"),  # oversized
        (
            {"mode": "custom_lyrics", "prompt": "folk", "lyrics": "la" * (MAX_LYRICS_CHARS // 2 + 1)},
            "body.lyrics",
        ),
        ({**VALID, "title": "bad\x07title"}, "body.title"),  # control characters
        ([VALID], "body"),
    ],
)
def test_invalid_body_is_422_with_field_details(api, aws_env, state_machine_arn, body, field) -> None:
    result = api.post_song(body)
    assert (result.status, result.error_code) == (422, "ValidationError"), result.body
    assert field in _fields(result)
    _nothing_written(aws_env, state_machine_arn)


def test_field_errors_do_not_echo_the_input(api) -> None:
    secret = "my very private lyrics " * 300
    result = api.post_song({"mode": "custom_lyrics", "prompt": "folk", "lyrics": secret})
    assert "private" not in json.dumps(result.body)


@pytest.mark.parametrize("raw", ["{not json", '{"mode": "description",', ""])
def test_malformed_json_is_400(api, aws_env, state_machine_arn, raw) -> None:
    result = api.call("POST", "/songs", raw_body=raw)
    # An empty body is "no body": the schema then reports the missing request.
    expected = (422, "ValidationError") if raw == "" else (400, "MalformedJson")
    assert (result.status, result.error_code) == expected
    _nothing_written(aws_env, state_machine_arn)


def test_body_over_the_size_limit_is_413(api, aws_env, state_machine_arn) -> None:
    raw = json.dumps({**VALID, "description": "y" * app.MAX_BODY_BYTES})
    result = api.call("POST", "/songs", raw_body=raw, headers={"Origin": "https://app.example.com"})
    assert (result.status, result.error_code) == (413, "PayloadTooLarge")
    assert result.headers["Access-Control-Allow-Origin"] == "*"
    _nothing_written(aws_env, state_machine_arn)


def test_non_json_content_type_is_415(api, aws_env, state_machine_arn) -> None:
    result = api.call(
        "POST",
        "/songs",
        raw_body="mode=description",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (result.status, result.error_code) == (415, "UnsupportedMediaType")
    _nothing_written(aws_env, state_machine_arn)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/songs/not-a-uuid", None, "path.song_id"),
        ("/songs/00000000-0000-4000-8000-00000000000G", None, "path.song_id"),
        ("/songs/..%2F..%2Fetc", None, "path.song_id"),
        ("/songs", {"limit": "0"}, "query.limit"),
        ("/songs", {"limit": "51"}, "query.limit"),
        ("/songs", {"limit": "ten"}, "query.limit"),
    ],
)
def test_invalid_ids_and_query_values_are_400(api, path, query, field) -> None:
    result = api.call("GET", path, query=query)
    assert (result.status, result.error_code) == (400, "InvalidRequest"), result.body
    assert field in _fields(result)


def test_path_ids_and_source_ids_share_one_uuid_pattern() -> None:
    from lambdas.common import request_fields

    source_id = request_fields.SourceRef.model_fields["upload_id"].metadata
    assert any(getattr(m, "pattern", None) == routes.UUID_PATTERN for m in source_id)


def test_invalid_id_on_delete_is_400(api) -> None:
    assert api.call("DELETE", "/songs/abc").status == 400


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", "eyJqb2JfaWQiOiAxfQ=="])
def test_garbage_next_token_is_400(api, token) -> None:
    result = api.call("GET", "/songs", query={"next_token": token})
    assert (result.status, result.error_code) == (400, "InvalidRequest")


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"[" * 1500).decode(),  # json.loads raises RecursionError
        _token({"job_id": "not-a-uuid", "user_id": "alice", "created_at": "2026-01-01T00:00:00.000Z"}),
        _token({"job_id": str(uuid.UUID(int=1)), "user_id": "alice", "created_at": ""}),
        _token({"job_id": str(uuid.UUID(int=0xABC)).upper(), "user_id": "alice", "created_at": "x"}),
        # Over DynamoDB's 1024-byte sort key: a ValidationException (500) as ExclusiveStartKey.
        _token({"job_id": str(uuid.UUID(int=1)), "user_id": "alice", "created_at": "9" * 1100}),
    ],
)
def test_forged_next_token_is_400(api, token) -> None:
    result = api.call("GET", "/songs", query={"next_token": token})
    assert (result.status, result.error_code) == (400, "InvalidRequest"), result.body


def test_invalid_idempotency_key_is_400(api, aws_env, state_machine_arn) -> None:
    result = api.post_song(VALID, headers={"Idempotency-Key": "has spaces in it"})
    assert (result.status, result.error_code) == (400, "InvalidRequest")
    assert "header.idempotency-key" in _fields(result)
    _nothing_written(aws_env, state_machine_arn)


@pytest.mark.parametrize("user", [None, "", "bad user/../id"])
def test_missing_or_unusable_identity_is_401(api, aws_env, state_machine_arn, user) -> None:
    for method, path in [("GET", "/me"), ("GET", "/songs"), ("POST", "/songs")]:
        result = api.call(method, path, user=user, body=VALID)
        assert (result.status, result.error_code) == (401, "Unauthorized")
    _nothing_written(aws_env, state_machine_arn)


def test_insufficient_credits_is_402_and_writes_no_job(api, aws_env, state_machine_arn) -> None:
    factories.users().get_or_create("alice", signup_credits=0)
    result = api.post_song(VALID)
    assert (result.status, result.error_code) == (402, "InsufficientCredits")
    assert result.body["error"]["details"] == {
        "price_credits": 3,  # VALID: 180 s
        "credits": 0,
        "reserved_credits": 0,
        "available_credits": 0,
    }
    _nothing_written(aws_env, state_machine_arn)


def test_unexpected_error_is_500_with_correlation_id_and_no_trace(api, monkeypatch) -> None:
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("lambdas.api.services.users.UserService.me", explode)
    result = api.call("GET", "/me")
    assert (result.status, result.error_code) == (500, "InternalError")
    assert result.body["error"]["details"] == {"correlation_id": "req-0000-1111"}
    assert "secret" not in json.dumps(result.body)
    assert "Traceback" not in json.dumps(result.body)


def test_downstream_throttling_is_429(api, monkeypatch) -> None:
    def throttled(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")

    monkeypatch.setattr("lambdas.common.store.users.UserStore.find", throttled)
    result = api.call("GET", "/me")
    assert (result.status, result.error_code) == (429, "TooManyRequests")


def test_unknown_route_is_404(api) -> None:
    assert api.call("GET", "/nope").status == 404
