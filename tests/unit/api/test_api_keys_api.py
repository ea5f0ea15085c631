"""POST/GET /me/api-keys and DELETE /me/api-keys/{key_id}: the secret once, only its hash kept,
a signed-in session required, the per-user cap, another user's key a 404."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from lambdas.common import api_keys
from lambdas.common.clock import utc_timestamp
from lambdas.common.contract import AUTH_BY_API_KEY


def _create(api, name: str = "ci", user: str = "alice", **extra):
    return api.call("POST", "/me/api-keys", body={"name": name, **extra}, user=user)


def test_create_returns_the_secret_once_and_stores_only_its_hash(api, aws_env) -> None:
    created = _create(api)
    assert created.status == 201
    body = created.body
    assert set(body) == {"key_id", "name", "prefix", "created_at", "expires_at", "last_used_at", "secret"}
    assert re.fullmatch(r"sng_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", body["secret"])
    assert body["secret"].startswith(body["prefix"] + "_") and body["prefix"] == f"sng_{body['key_id']}"
    assert (body["name"], body["expires_at"], body["last_used_at"]) == ("ci", None, None)
    (row,) = boto3.resource("dynamodb").Table(aws_env.api_keys_table).scan()["Items"]
    assert body["secret"] not in str(row)
    assert row["secret_hash"] == api_keys.hash_secret(body["secret"])

    listed = api.call("GET", "/me/api-keys")
    assert listed.status == 200
    (key,) = listed.body["keys"]
    assert "secret" not in key and "secret_hash" not in key
    assert key == {k: v for k, v in body.items() if k != "secret"}


def test_expires_in_days_sets_the_expiry(api) -> None:
    body = _create(api, expires_in_days=30).body
    expected = datetime.now(UTC) + timedelta(days=30)
    assert abs(datetime.fromisoformat(body["expires_at"]) - expected) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "expires_in_days": 0},
        {"name": "a\x00b"},
        {"name": "ok", "expires_in_days": 3651},
        {"name": "ok", "scope": "admin"},
    ],
    ids=["no-name", "empty", "long", "zero-days", "control-char", "too-long-life", "unknown-field"],
)
def test_an_invalid_request_is_a_422_and_creates_nothing(api, aws_env, body) -> None:
    response = api.call("POST", "/me/api-keys", body=body)
    assert response.status == 422, response.body
    assert boto3.resource("dynamodb").Table(aws_env.api_keys_table).scan()["Count"] == 0


def test_keys_are_listed_per_user_oldest_first(api) -> None:
    first, second = _create(api, "one").body, _create(api, "two").body
    _create(api, "bobs", user="bob")
    names = [k["name"] for k in api.call("GET", "/me/api-keys").body["keys"]]
    assert names == ["one", "two"]
    assert [k["key_id"] for k in api.call("GET", "/me/api-keys").body["keys"]] == [
        first["key_id"],
        second["key_id"],
    ]
    assert [k["name"] for k in api.call("GET", "/me/api-keys", user="bob").body["keys"]] == ["bobs"]


def test_revoke_deletes_the_key_and_another_users_key_is_a_404(api) -> None:
    key_id = _create(api).body["key_id"]
    assert api.call("DELETE", f"/me/api-keys/{key_id}", user="bob").status == 404
    assert len(api.call("GET", "/me/api-keys").body["keys"]) == 1
    revoked = api.call("DELETE", f"/me/api-keys/{key_id}")
    assert (revoked.status, revoked.body) == (204, None)
    assert api.call("GET", "/me/api-keys").body["keys"] == []
    again = api.call("DELETE", f"/me/api-keys/{key_id}")
    assert (again.status, again.error_code) == (404, "NotFound")


def test_a_malformed_key_id_is_a_400(api) -> None:
    assert api.call("DELETE", "/me/api-keys/not-a-key").status == 400


def test_the_cap_is_exact_and_revoking_makes_room(api, monkeypatch) -> None:
    from lambdas.common import runtime

    monkeypatch.setenv("API_KEY_MAX_PER_USER", "2")
    runtime.reset_all()
    keys = [_create(api, f"k{i}").body["key_id"] for i in range(2)]
    refused = _create(api, "third")
    assert (refused.status, refused.error_code) == (409, "ApiKeyLimitReached")
    assert refused.body["error"]["details"] == {"max_keys": 2}
    assert _create(api, "bobs", user="bob").status == 201  # per user
    assert api.call("DELETE", f"/me/api-keys/{keys[0]}").status == 204
    assert _create(api, "third").status == 201
    assert len(api.call("GET", "/me/api-keys").body["keys"]) == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/me/api-keys", {"name": "x"}),
        ("GET", "/me/api-keys", None),
        ("DELETE", "/me/api-keys/0123456789abcdef", None),
    ],
)
def test_an_api_key_cannot_manage_keys(api, aws_env, method, path, body) -> None:
    response = api.call(method, path, body=body, auth_method=AUTH_BY_API_KEY)
    assert (response.status, response.error_code) == (403, "SessionRequired")
    assert boto3.resource("dynamodb").Table(aws_env.api_keys_table).scan()["Count"] == 0


def test_an_api_key_acts_as_its_owner_elsewhere(api) -> None:
    me = api.call("GET", "/me", auth_method=AUTH_BY_API_KEY)
    assert me.status == 200 and me.body["user_id"] == "alice"


def test_created_at_is_a_utc_timestamp(api) -> None:
    created = _create(api).body["created_at"]
    assert created.endswith("Z") and created <= utc_timestamp(datetime.now(UTC))
