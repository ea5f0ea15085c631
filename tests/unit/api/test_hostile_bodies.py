"""Hostile bodies: every class gets a 4xx JSON error (never a 5xx), writes nothing, echoes nothing."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from lambdas.api import json_body
from lambdas.common.models import SONG_MODES

VALID = {"mode": "description", "description": "an upbeat synthwave song about night drives"}
VALID_TEXT = json.dumps(VALID)


# One moto backend for the whole module (a fresh one per test cost about a second each).


@pytest.fixture(scope="module")
def _rich_alice(shared_api) -> None:
    # Accepted songs reserve their price; alice can pay for every one this module submits.
    shared_api.client.call("GET", "/me")
    boto3.client("dynamodb").update_item(
        TableName=shared_api.names.users_table,
        Key={"user_id": {"S": "alice"}},
        UpdateExpression="SET credits = :c",
        ExpressionAttributeValues={":c": {"N": "100000"}},
    )


@pytest.fixture
def api(shared_api, _rich_alice):
    return shared_api.client


@pytest.fixture
def nothing_written(shared_api):
    """Fails the test if the request under test wrote a job row or started an execution."""
    before = shared_api.writes()
    yield
    assert shared_api.writes() == before, "a rejected request wrote something"


def _assert_error(result, status: int, code: str) -> None:
    assert (result.status, result.error_code) == (status, code), result.body
    assert result.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 30_000 + "]" * 30_000,  # recursion in the C parser (still under the 64 KiB limit)
        '{"mode": ' + "[" * 40 + "]" * 40 + "}",  # deeper than the limit, well inside Python's
        '{"mode": "description", "description": "abc", "seed": ' + "9" * 5000 + "}",  # int() limit
        '{"mode": "description", "description": "abc", "guidance_scale": 1e999}',  # infinity
        '{"mode": "description", "description": "abc", "guidance_scale": NaN}',
        '{"mode": "description", "description": "abc", "guidance_scale": -Infinity}',
        '{"mode": "description", "description": "abc", "mode": "custom_lyrics"}',  # duplicate key
        '{"mode": "description", "description": "abc\\ud800"}',  # lone surrogate escape
        '{"mode": "description", "description": "a\x07c"}',  # raw control character in a string
        '{"mode": "description"} trailing',
    ],
    ids=[
        "deep-nesting",
        "over-depth",
        "huge-int",
        "overflow-float",
        "nan",
        "infinity",
        "duplicate-key",
        "lone-surrogate",
        "raw-control",
        "trailing-data",
    ],
)
def test_malformed_json_classes_are_400(api, nothing_written, raw) -> None:
    _assert_error(api.call("POST", "/songs", raw_body=raw), 400, "MalformedJson")


def _base64_event_body(api, raw: bytes, content_type: str = "application/json"):
    # What the local front (and API Gateway with binary media types) sends for non-UTF-8 bytes.
    return api.call(
        "POST",
        "/songs",
        raw_body=base64.b64encode(raw).decode(),
        headers={"Content-Type": content_type},
        base64=True,
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"mode": "description", "description": "\xff\xfe bad bytes"}',  # invalid UTF-8
        VALID_TEXT.encode("utf-16"),  # UTF-16 with its BOM (json.loads(bytes) would accept it)
        VALID_TEXT.encode("utf-16-le"),  # UTF-16 without a BOM: NUL bytes between characters
        b"\xef\xbb\xbf" + VALID_TEXT.encode(),  # UTF-8 with a BOM
        VALID_TEXT.encode("utf-32"),
    ],
    ids=["invalid-utf8", "utf16-bom", "utf16-no-bom", "utf8-bom", "utf32"],
)
def test_bodies_that_are_not_utf8_are_400(api, nothing_written, raw) -> None:
    _assert_error(_base64_event_body(api, raw), 400, "MalformedJson")


def test_a_base64_utf8_body_is_accepted(api) -> None:
    assert _base64_event_body(api, VALID_TEXT.encode()).status == 202


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-patch+json",
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        "application/json; version=2",
        "",
    ],
)
def test_media_types_other_than_json_are_415(api, nothing_written, content_type) -> None:
    result = api.call("POST", "/songs", raw_body=VALID_TEXT, headers={"Content-Type": content_type})
    _assert_error(result, 415, "UnsupportedMediaType")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
    ],
)
def test_json_media_type_variants_are_accepted(api, content_type) -> None:
    result = api.call("POST", "/songs", raw_body=VALID_TEXT, headers={"Content-Type": content_type})
    assert result.status == 202, result.body


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"duration_s": "30"}, "body.duration_s"),  # a numeric string is not a number
        ({"duration_s": 30.5}, "body.duration_s"),  # nor a fraction
        ({"duration_s": True}, "body.duration_s"),  # nor a boolean
        ({"instrumental": "yes"}, "body.instrumental"),
        ({"instrumental": 1}, "body.instrumental"),
        ({"instrumental": "true"}, "body.instrumental"),
        ({"guidance_scale": "7.5"}, "body.guidance_scale"),
        ({"seed": "42"}, "body.seed"),
        ({"formats": "wav"}, "body.formats"),
        ({"title": 5}, "body.title"),
    ],
)
def test_json_types_are_strict(api, nothing_written, extra, field) -> None:
    result = api.post_song({**VALID, **extra})
    _assert_error(result, 422, "ValidationError")
    assert field in {d["field"] for d in result.body["error"]["details"]}


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"],
    ids=lambda c: f"U+{ord(c):04X}",
)
@pytest.mark.parametrize("field", ["description", "title"])
def test_control_characters_are_refused_in_text(api, nothing_written, char, field) -> None:
    result = api.post_song({**VALID, field: f"night{char}drive"})  # json.dumps escapes as \uXXXX
    _assert_error(result, 422, "ValidationError")
    (detail,) = result.body["error"]["details"]
    assert detail == {
        "field": f"body.{field}",
        "message": "must not contain control characters other than line breaks and tabs",
        "type": "string_pattern_mismatch",
    }


@pytest.mark.parametrize("literal", ["30.0", "3e1", "300e-1"])
def test_an_integral_number_is_an_integer_as_in_json_schema(api, literal) -> None:
    raw = VALID_TEXT[:-1] + f', "duration_s": {literal}}}'
    assert api.call("POST", "/songs", raw_body=raw).status == 202


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("0.0", 0),
        ("-0e5", 0),
        ("0.000001", 1e-6),
        ("1e-100", 1e-100),
        # Below DynamoDB's 1E-130 (boto3 would raise decimal.Underflow): read as 0, like 1e-400.
        ("1e-300", 0),
        ("-5e-324", 0),
        ("1e-400", 0),
    ],
)
def test_zero_and_small_numbers_are_read(literal, value) -> None:
    assert json_body.loads(f"[{literal}]") == [value]


def test_a_number_dynamodb_cannot_store_is_stored_as_zero(api) -> None:
    raw = VALID_TEXT[:-1] + ', "guidance_scale": 1e-300}'
    result = api.call("POST", "/songs", raw_body=raw)
    assert result.status == 422  # read as 0, below the field's minimum: a validation error, no 5xx
    # Where 0 is valid the song is accepted and its row written (boto3 would underflow on 1e-300).
    created = api.call("POST", "/songs", raw_body=VALID_TEXT[:-1] + ', "seed": 1e-300}')
    assert created.status == 202 and created.body["request"]["seed"] == 0


def test_line_breaks_tabs_and_other_unicode_are_fine(api) -> None:
    lyrics = "[verse]\r\nnacht\tlicht \u2028 caf\u00e9 \u00a0 \u6b4c \U0001f3b5"
    result = api.post_song({"mode": "custom_lyrics", "prompt": "lofi, piano", "lyrics": lyrics})
    assert result.status == 202, result.body


@pytest.mark.parametrize(
    ("body", "secret"),
    [
        ({**VALID, "<script>alert(1)</script>": 1}, "<script>"),
        ({**VALID, "x" * 5000: 1}, "x" * 5000),
        ({"mode": "<img src=x onerror=alert(1)>", "description": "abc"}, "<img"),
        ({"mode": "custom_lyrics", "prompt": "folk", "lyrics": "la", "secret-field-name": 1}, "secret-field"),
    ],
    ids=["html-name", "huge-name", "html-mode", "extra-in-a-mode"],
)
def test_422_details_never_echo_client_supplied_names(api, body, secret) -> None:
    result = api.post_song(body)
    _assert_error(result, 422, "ValidationError")
    assert secret not in json.dumps(result.body)


def test_unknown_mode_lists_the_modes(api) -> None:
    result = api.post_song({"mode": "remix", "description": "abc"})
    (detail,) = result.body["error"]["details"]
    assert detail["field"] == "body"
    modes = ", ".join(f"'{mode}'" for mode in SONG_MODES)
    assert detail["message"] == f"'mode' must be one of {modes}"
    assert "'description'" in modes and "'stems'" in modes


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_bodies_on_methods_without_one_are_ignored(api, method) -> None:
    # No GET or DELETE route reads a body: garbage there must not turn a good request into an error.
    path = "/me" if method == "GET" else "/songs/00000000-0000-4000-8000-000000000000"
    result = api.call(method, path, raw_body="\x00{not json", headers={"Content-Type": "text/plain"})
    assert result.status == (200 if method == "GET" else 404)


@pytest.mark.parametrize("raw", ["[]", "{", "\x00{not json", "x" * 70_000])
def test_bodies_on_post_routes_without_one_are_ignored(api, raw) -> None:
    # The OpenAPI document lists no 400/413/415/422 for these operations: a body there is ignored.
    headers = {"Content-Type": "text/plain"}
    rotated = api.call("POST", "/me/webhook-secret/rotate", raw_body=raw, headers=headers)
    assert rotated.status == 200, rotated.body
    job_id = api.post_song(VALID).body["job_id"]
    canceled = api.call("POST", f"/songs/{job_id}/cancel", raw_body=raw, headers=headers)
    assert canceled.status == 200, canceled.body
    assert canceled.body["status"] == "canceled"


def test_only_the_operations_with_a_request_body_read_one() -> None:
    from lambdas.api import app

    document = app.openapi_document()
    with_body = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    assert with_body == app.ROUTES_WITH_BODY


def test_strict_loads_is_the_resolvers_deserializer() -> None:
    from lambdas.api.app import cors, create_app

    assert create_app(cors(["*"]))._json_body_deserializer is json_body.loads
