"""API keys: the secret's format and hash, finding a key by its secret, expiry, revocation, the
recorded last use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambdas.common import api_keys
from lambdas.common.clock import utc_timestamp
from lambdas.common.store.api_keys import ApiKey, ApiKeyStore
from lambdas.common.store.users import UserStore
from tests.factories import put_api_key

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_secrets_are_random_well_formed_and_only_hashed() -> None:
    first, second = api_keys.new_secret(), api_keys.new_secret()
    assert first.secret != second.secret and first.key_id != second.key_id
    assert api_keys.key_id_of(first.secret) == first.key_id
    assert first.secret.startswith(f"{first.prefix}_") and api_keys.looks_like_api_key(first.secret)
    assert first.secret_hash == api_keys.hash_secret(first.secret) and first.secret not in first.secret_hash
    assert len(first.secret_hash) == 64  # SHA-256, hex


def test_matches_only_the_exact_secret() -> None:
    fresh = api_keys.new_secret()
    assert api_keys.matches(fresh.secret, fresh.secret_hash)
    assert not api_keys.matches(
        fresh.secret[:-1] + ("A" if fresh.secret[-1] != "A" else "B"), fresh.secret_hash
    )
    assert not api_keys.matches(fresh.secret + " ", fresh.secret_hash)


@pytest.mark.parametrize(
    "credential",
    [
        "sng_",
        "sng_0123456789abcdef",
        "sng_0123456789ABCDEF_" + "a" * 43,
        "sng_0123456789abcdef_" + "a" * 42,
        "sng_0123456789abcdef_" + "a" * 42 + "!",
        "eyJhbGciOiJSUzI1NiJ9.e30.sig",
    ],
)
def test_malformed_secrets_have_no_key_id(credential) -> None:
    assert api_keys.key_id_of(credential) is None


@pytest.fixture
def store(aws_env) -> ApiKeyStore:
    UserStore(aws_env.users_table).get_or_create("alice", 10)
    return ApiKeyStore(aws_env.api_keys_table, aws_env.users_table)


def _stored(
    store: ApiKeyStore, *, expires_at: str | None = None, user_id: str = "alice"
) -> tuple[ApiKey, str]:
    return put_api_key(store, user_id, created_at=NOW, expires_at=expires_at)


def test_a_valid_secret_finds_its_key_and_records_the_use(store) -> None:
    key, secret = _stored(store)
    found = store.authenticate(key.key_id, secret, now=NOW)
    assert found is not None and found.user_id == "alice"
    assert store.find(key.key_id).last_used_at == utc_timestamp(NOW)


def test_last_use_is_written_at_most_once_a_minute(store) -> None:
    key, secret = _stored(store)
    store.authenticate(key.key_id, secret, now=NOW)
    store.authenticate(key.key_id, secret, now=NOW + timedelta(seconds=30))
    assert store.find(key.key_id).last_used_at == utc_timestamp(NOW)
    store.authenticate(key.key_id, secret, now=NOW + timedelta(seconds=61))
    assert store.find(key.key_id).last_used_at == utc_timestamp(NOW + timedelta(seconds=61))


def test_another_secret_with_the_same_key_id_is_refused(store) -> None:
    key, _ = _stored(store)
    forged = f"sng_{key.key_id}_" + "A" * 43
    assert store.authenticate(key.key_id, forged, now=NOW) is None
    assert store.find(key.key_id).last_used_at is None


def test_an_expired_key_is_refused(store) -> None:
    key, secret = _stored(store, expires_at=utc_timestamp(NOW + timedelta(days=1)))
    assert store.authenticate(key.key_id, secret, now=NOW) is not None
    assert store.authenticate(key.key_id, secret, now=NOW + timedelta(days=1)) is None


def test_a_revoked_key_is_refused_at_once(store) -> None:
    key, secret = _stored(store)
    store.delete("alice", key.key_id)
    assert store.find(key.key_id) is None
    assert store.authenticate(key.key_id, secret, now=NOW) is None


def test_recording_a_use_never_brings_a_revoked_key_back(store, monkeypatch) -> None:
    """A revocation between the authorizer's read and its last-use write leaves no stub row."""
    key, secret = _stored(store)
    read = store.find

    def read_then_revoke(key_id: str):
        found = read(key_id)
        store.delete("alice", key_id)
        return found

    monkeypatch.setattr(store, "find", read_then_revoke)
    store.authenticate(key.key_id, secret, now=NOW)
    assert read(key.key_id) is None


def test_the_count_follows_creations_and_revocations(store, aws_env) -> None:
    users = UserStore(aws_env.users_table)
    keys = [_stored(store)[0] for _ in range(3)]
    store.delete("alice", keys[0].key_id)

    def count() -> int:
        item = users._table.get_item(Key={"user_id": "alice"})["Item"]
        return int(item["api_key_count"])

    assert count() == 2
    with pytest.raises(Exception, match="not found"):
        store.delete("bob", keys[1].key_id)
    assert count() == 2 and store.find(keys[1].key_id) is not None


def test_a_store_without_the_users_table_cannot_create(aws_env) -> None:
    reader = ApiKeyStore(aws_env.api_keys_table)
    with pytest.raises(RuntimeError, match="users table"):
        reader.create(
            ApiKey(key_id="0" * 16, user_id="a", name="n", prefix="p", secret_hash="h", created_at="t"), 1
        )
