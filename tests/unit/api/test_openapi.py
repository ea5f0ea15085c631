"""docs/openapi.json is generated from the resolver, valid OpenAPI 3.1, and says everything it should."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from lambdas.api import handler, openapi
from lambdas.api.app import openapi_document
from lambdas.common import runtime
from lambdas.common.request_fields import SAFE_TEXT_PATTERN
from stacks.config import ServiceConfig

from .conftest import FakeContext, proxy_event

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi_document()


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.upper(), path): op for path, item in spec["paths"].items() for m, op in item.items()}


def test_committed_openapi_matches_the_code() -> None:
    assert DOC.read_text() == openapi.text(openapi_document()), (
        "docs/openapi.json is stale: run `make openapi`"
    )


def test_document_is_valid_openapi_3_1(spec) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # the OpenAPI 3.1 meta-schema, $refs resolved


def test_server_variables_are_declared(spec) -> None:
    for server in spec["servers"]:
        used = set(re.findall(r"\{(\w+)\}", server["url"]))
        assert used == set(server.get("variables", {})), server["url"]
        assert all("default" in v for v in server.get("variables", {}).values())


def test_core_routes_are_documented(spec) -> None:
    assert {
        ("GET", "/health"),
        ("POST", "/songs"),
        ("GET", "/songs"),
        ("GET", "/songs/{song_id}"),
        ("DELETE", "/songs/{song_id}"),
        ("GET", "/me"),
        ("POST", "/songs/{song_id}/cancel"),
        ("GET", "/me/webhook-secret"),
        ("POST", "/me/webhook-secret/rotate"),
        ("POST", "/uploads"),
        ("GET", "/uploads/{upload_id}"),
    } <= set(_operations(spec))
    body = _operations(spec)[("POST", "/songs")]["requestBody"]["content"]["application/json"]["schema"]
    # Written out: the mapping and SONG_MODES come from the same union, so only a literal list
    # notices a mode dropped from the API by accident.
    assert set(body["discriminator"]["mapping"]) == {
        "description",
        "custom_lyrics",
        "described_lyrics",
        "cover",
        "repaint",
        "extend",
        "stems",
        "transcribe",
    }


def test_every_operation_declares_security_and_its_statuses(spec) -> None:
    for key, op in _operations(spec).items():
        assert "security" in op, key
        statuses = op["responses"]
        success = [s for s in statuses if s.startswith("2")]
        assert len(success) == 1, key
        if success != ["204"]:
            assert "schema" in statuses[success[0]]["content"]["application/json"], key
        errors = {s for s in statuses if not s.startswith("2")}
        # 429 (stage throttling) and 500 anywhere; 401 wherever the authorizer runs.
        assert {"429", "500"} <= errors, key
        assert ("401" in errors) == bool(op["security"]), key
        # Bad parameters are 400; only a body that fails its schema is 422.
        assert ("422" in errors) == ("requestBody" in op), key
        for status in errors:
            assert statuses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }, (key, status)
    assert _operations(spec)[("GET", "/health")]["security"] == []


def _request_schemas(spec: dict[str, Any]) -> list[str]:
    names = []
    for op in _operations(spec).values():
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        names += re.findall(r'"#/components/schemas/(\w+)"', json.dumps(schema))
    return names


def test_every_text_field_of_a_request_carries_a_pattern(spec) -> None:
    schemas = spec["components"]["schemas"]
    texts = 0
    for name in _request_schemas(spec):
        assert schemas[name].get("additionalProperties") is False, name
        for field, prop in schemas[name]["properties"].items():
            for variant in prop.get("anyOf", [prop]):
                if variant.get("type") != "string" or "const" in variant or "enum" in variant:
                    continue
                # Free text carries the text rule; a field with its own format (`key`, `vocal_language`)
                # carries an anchored pattern of its own, which admits no control character either.
                pattern = variant.get("pattern", "")
                assert pattern.startswith("^") and pattern.endswith("$"), (name, field)
                texts += pattern == SAFE_TEXT_PATTERN
    assert texts >= 4


def test_the_text_pattern_is_the_rule_enforced() -> None:
    compiled = re.compile(SAFE_TEXT_PATTERN)
    for allowed in ["", "plain", "line\nbreak\r\n", "tab\there", "caf\u00e9 \u2028 \U0001f3b5", "\u00a0"]:
        assert compiled.match(allowed), repr(allowed)
    for refused in [chr(c) for c in [*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]:
        assert not compiled.match(f"a{refused}b"), hex(ord(refused))


def test_served_document_names_the_calling_deployment() -> None:
    from aws_lambda_powertools.event_handler.openapi.models import Server

    from lambdas.api.app import cors, create_app

    # What GET /docs?format=json answers under the stage.
    served = openapi.document_dict(create_app(cors(["*"])), [Server(url="/v1")])
    assert served["servers"] == [{"url": "/v1"}]
    assert served["paths"] == openapi_document()["paths"]


def test_every_number_and_text_of_a_request_is_bounded(spec) -> None:
    """The document states each limit the API enforces: a client (or a fuzzer) can stay inside them."""
    schemas = spec["components"]["schemas"]
    for name in set(_request_schemas(spec)):
        for field, prop in schemas[name]["properties"].items():
            for variant in prop.get("anyOf", [prop]):
                kind = None if {"enum", "const"} & set(variant) else variant.get("type")
                if kind in ("integer", "number"):
                    assert "minimum" in variant or "exclusiveMinimum" in variant, (name, field)
                    assert "maximum" in variant or "exclusiveMaximum" in variant, (name, field)
                elif kind == "string":
                    # A length, or a pattern that bounds it (no *, + or open {n,}).
                    bounded = not re.search(r"[*+]|\{\d+,\}", variant.get("pattern", "*"))
                    assert "maxLength" in variant or bounded, (name, field)
                elif kind == "array":
                    assert "maxItems" in variant, (name, field)


def _size_limit(spec: dict[str, Any]) -> int:
    return spec["components"]["schemas"]["UploadRequest"]["properties"]["size_bytes"]["maximum"]


def test_the_upload_size_limit_is_the_one_the_api_enforces(state_machine_arn, monkeypatch) -> None:
    # cdk.json's default: the committed document's
    assert _size_limit(json.loads(DOC.read_text())) == ServiceConfig().upload_max_mb * 2**20 == 50 * 2**20
    monkeypatch.setenv("UPLOAD_MAX_MB", "7")  # a deployment's own setting: the document it serves says so
    runtime.reset_all()
    event = proxy_event("GET", "/docs", user=None, query={"format": "json"})
    served = json.loads(handler.lambda_handler(event, FakeContext())["body"])
    assert _size_limit(served) == 7 * 2**20


@pytest.mark.parametrize(
    ("source", "valid"),
    [
        ({"upload_id": "00000000-0000-0000-0000-000000000000"}, True),
        ({"song_id": "00000000-0000-0000-0000-000000000000", "take": 2}, True),
        ({"upload_id": "00000000-0000-0000-0000-000000000000", "take": 1}, False),
        ({"upload_id": "00000000-0000-0000-0000-000000000000", "song_id": None, "take": 1}, False),
        (
            {
                "upload_id": "00000000-0000-0000-0000-000000000000",
                "song_id": "00000000-0000-0000-0000-000000000000",
            },
            False,
        ),
        (
            {
                "upload_id": "00000000-0000-0000-0000-000000000000",
                "song_id": "00000000-0000-0000-0000-000000000000",
                "take": 1,
            },
            False,
        ),
        ({"upload_id": None, "song_id": "00000000-0000-0000-0000-000000000000"}, True),
        ({}, False),
    ],
)
def test_the_persona_source_schema_accepts_what_the_api_accepts(spec, source, valid) -> None:
    """A schema-valid source is one the API takes (Schemathesis holds the API to the document)."""
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError

    from lambdas.common.personas import PersonaSourceRef

    document = {**spec, "$ref": "#/components/schemas/PersonaSourceRef"}
    assert Draft202012Validator(document).is_valid(source) is valid
    try:
        PersonaSourceRef.model_validate(source)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is valid


@pytest.mark.parametrize(("formats", "valid"), [(["wav", "mid"], True), (["mp3"], True), (["mid"], False)])
def test_the_stems_formats_schema_needs_an_audio_format_as_the_api_does(spec, formats, valid) -> None:
    from jsonschema import Draft202012Validator

    schema = {**spec, "$ref": "#/components/schemas/StemsRequest/properties/formats"}
    assert Draft202012Validator(schema).is_valid(formats) is valid
