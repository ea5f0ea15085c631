"""docs/openapi.json is generated from the resolver; this fails when it is stale."""

from __future__ import annotations

import json
from pathlib import Path

from lambdas.api.openapi import document

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_code() -> None:
    assert DOC.read_text() == document(), "docs/openapi.json is stale: run `make openapi`"


def test_document_covers_every_route_with_security_except_health() -> None:
    spec = json.loads(document())
    operations = {
        (method.upper(), path): op for path, item in spec["paths"].items() for method, op in item.items()
    }
    assert set(operations) == {
        ("GET", "/health"),
        ("POST", "/songs"),
        ("GET", "/songs"),
        ("GET", "/songs/{song_id}"),
        ("DELETE", "/songs/{song_id}"),
        ("GET", "/me"),
        ("POST", "/songs/{song_id}/cancel"),
        ("GET", "/me/webhook-secret"),
        ("POST", "/me/webhook-secret/rotate"),
    }
    for key, op in operations.items():
        assert ("security" in op) == (key != ("GET", "/health")), key
    body = operations[("POST", "/songs")]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["discriminator"]["mapping"]) == {"description", "custom_lyrics", "described_lyrics"}
