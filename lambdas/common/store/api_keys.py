"""The API keys table: a key's row (its owner, name, the secret's hash, expiry, last use).

The per-user cap is exact: creating a key and counting it on the user row (`api_key_count`) is one
transaction, and so are deleting it and counting it off; two concurrent creations cannot both take
the last place. Revoking deletes the row: the authorizer finds nothing from then on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from .. import aws
from ..api_keys import matches
from ..clock import utc_timestamp
from ..contract import API_KEYS_BY_USER
from ..errors import ApiKeyLimitReached, NotFound
from .dynamo import conditional, from_dynamo, query_all, transact, typed, typed_item

# A key's `last_used_at` is written at most this often (each uncached authorization reads the row;
# writing it on every one would double the cost of a busy key for no use).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyInfo(BaseModel):
    """What a list shows of a key (the by_user index projects no more)."""

    key_id: str
    user_id: str
    name: str
    prefix: str
    created_at: str
    expires_at: str | None = None
    last_used_at: str | None = None


class ApiKey(ApiKeyInfo):
    secret_hash: str

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= utc_timestamp(now)


class ApiKeyStore:
    def __init__(self, table_name: str, users_table_name: str | None = None) -> None:
        """Without the users table the store only reads and records use (the authorizer's)."""
        self.table_name = table_name
        self._users_table_name = users_table_name
        self._table = aws.table(table_name)

    @property
    def users_table_name(self) -> str:
        if self._users_table_name is None:
            raise RuntimeError("this API key store was built without the users table: it cannot count keys")
        return self._users_table_name

    def create(self, key: ApiKey, max_per_user: int) -> ApiKey:
        """Store the key and count it on its user's row (which must exist), unless the user already
        has `max_per_user` keys: then ApiKeyLimitReached and nothing is written."""
        count_it = {
            "Update": {
                "TableName": self.users_table_name,
                "Key": {"user_id": typed(key.user_id)},
                "UpdateExpression": "SET api_key_count = if_not_exists(api_key_count, :zero) + :one",
                "ConditionExpression": "attribute_exists(user_id) AND "
                "(attribute_not_exists(api_key_count) OR api_key_count < :max)",
                "ExpressionAttributeValues": {
                    ":zero": typed(0),
                    ":one": typed(1),
                    ":max": typed(max_per_user),
                },
            }
        }
        put = {
            "Put": {
                "TableName": self.table_name,
                "Item": typed_item(key.model_dump(exclude_none=True)),
                "ConditionExpression": "attribute_not_exists(key_id)",
            }
        }
        if transact([count_it, put]) is not None:
            raise ApiKeyLimitReached(
                f"you have {max_per_user} API keys, the most allowed; revoke one to make room",
                {"max_keys": max_per_user},
            )
        return key

    def list_for_user(self, user_id: str) -> list[ApiKeyInfo]:
        """The user's keys, oldest first, from the index (which holds no hashes)."""
        items = query_all(
            self._table,
            IndexName=API_KEYS_BY_USER.name,
            KeyConditionExpression="user_id = :user",
            ExpressionAttributeValues={":user": user_id},
        )
        return [ApiKeyInfo.model_validate(from_dynamo(item)) for item in items]

    def delete(self, user_id: str, key_id: str) -> None:
        """Revoke one of the user's keys; another user's (or a missing) key is NotFound."""
        delete = {
            "Delete": {
                "TableName": self.table_name,
                "Key": {"key_id": typed(key_id)},
                "ConditionExpression": "user_id = :user",
                "ExpressionAttributeValues": {":user": typed(user_id)},
            }
        }
        uncount = {
            "Update": {
                "TableName": self.users_table_name,
                "Key": {"user_id": typed(user_id)},
                "UpdateExpression": "SET api_key_count = api_key_count - :one",
                "ConditionExpression": "api_key_count >= :one",
                "ExpressionAttributeValues": {":one": typed(1)},
            }
        }
        if transact([delete, uncount]) is not None:
            raise NotFound("API key not found")

    # --- the authorizer's side -------------------------------------------------------------------

    def find(self, key_id: str) -> ApiKey | None:
        # Strongly consistent: a key revoked a moment ago is not read back from a stale replica.
        item = self._table.get_item(Key={"key_id": key_id}, ConsistentRead=True).get("Item")
        return ApiKey.model_validate(from_dynamo(item)) if item else None

    def authenticate(self, key_id: str, secret: str, now: datetime | None = None) -> ApiKey | None:
        """The key whose secret this is, if it exists and has not expired; None otherwise. Records
        the use (`last_used_at`, at most once per LAST_USED_RESOLUTION)."""
        now = now or datetime.now(UTC)
        key = self.find(key_id)
        if key is None or not matches(secret, key.secret_hash) or key.expired(now):
            return None
        stamp = utc_timestamp(now)
        if key.last_used_at is None or key.last_used_at <= utc_timestamp(now - LAST_USED_RESOLUTION):
            # Only on a row that still exists: a key revoked meanwhile must not come back as a stub.
            conditional(
                lambda: self._table.update_item(
                    Key={"key_id": key_id},
                    UpdateExpression="SET last_used_at = :now",
                    ConditionExpression="attribute_exists(key_id)",
                    ExpressionAttributeValues={":now": stamp},
                )
            )
            key = key.model_copy(update={"last_used_at": stamp})
        return key
