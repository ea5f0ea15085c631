"""The client's API key calls: typed answers, no retry of a creation, ids checked before the path."""

from __future__ import annotations

import json

import httpx
import pytest
from song_client.errors import PermissionDeniedError, ServerError

from .fake_api import error

KEY = {
    "key_id": "0123456789abcdef",
    "name": "ci",
    "prefix": "sng_0123456789abcdef",
    "created_at": "2026-01-01T00:00:00.000Z",
    "expires_at": None,
    "last_used_at": None,
}


def test_create_sends_the_name_and_lifetime_and_returns_the_secret(client, api) -> None:
    secret = f"{KEY['prefix']}_{'a' * 43}"
    api.then("POST", "/me/api-keys", httpx.Response(201, json={**KEY, "secret": secret}))
    created = client.create_api_key("ci", expires_in_days=30)
    assert (created.key_id, created.secret) == (KEY["key_id"], secret)
    (request,) = api.api_requests("POST", "/me/api-keys")
    assert json.loads(request.content) == {"name": "ci", "expires_in_days": 30}


def test_a_lost_creation_is_not_retried(client, api, sleeps) -> None:
    """A retry would make a second key; the first one's secret would be lost either way."""
    api.then("POST", "/me/api-keys", error(503, "ServiceUnavailable", "try again"))
    with pytest.raises(ServerError):
        client.create_api_key("ci")
    assert len(api.api_requests("POST", "/me/api-keys")) == 1 and sleeps == []


def test_list_and_revoke(client, api) -> None:
    api.then("GET", "/me/api-keys", httpx.Response(200, json={"keys": [KEY]}))
    api.then("DELETE", f"/me/api-keys/{KEY['key_id']}", httpx.Response(204))
    (listed,) = client.list_api_keys()
    assert listed.prefix == KEY["prefix"] and not hasattr(listed, "secret")
    client.revoke_api_key(KEY["key_id"])
    assert len(api.api_requests("DELETE")) == 1


def test_a_key_managing_keys_is_refused_in_the_apis_words(client, api) -> None:
    refusal = error(403, "SessionRequired", "managing API keys needs a signed-in session")
    api.then("GET", "/me/api-keys", refusal)
    with pytest.raises(PermissionDeniedError) as refused:
        client.list_api_keys()
    assert refused.value.code == "SessionRequired"


@pytest.mark.parametrize("key_id", ["../songs", "0123456789ABCDEF", "", "0123"])
def test_revoke_refuses_anything_but_a_key_id(client, api, key_id) -> None:
    with pytest.raises(ValueError):
        client.revoke_api_key(key_id)
    assert api.api_requests() == []
