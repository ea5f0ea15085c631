"""Personal API keys (`/me/api-keys`): create (the secret shown once), list, revoke.

Only a signed-in session manages keys (routes.py refuses an API key there): a leaked key cannot
mint itself successors or revoke its owner's other keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lambdas.common import api_keys
from lambdas.common.clock import utc_timestamp
from lambdas.common.observability import logger
from lambdas.common.store.api_keys import ApiKey, ApiKeyInfo, ApiKeyStore
from lambdas.common.store.users import UserStore

from ..schemas import ApiKeyCreated, ApiKeyDetail, ApiKeyList


class ApiKeyService:
    def __init__(
        self, keys: ApiKeyStore, users: UserStore, *, signup_credits: int, max_per_user: int
    ) -> None:
        self.keys = keys
        self.users = users
        self.signup_credits = signup_credits
        self.max_per_user = max_per_user

    def create(self, user_id: str, request: api_keys.ApiKeyRequest) -> ApiKeyCreated:
        # The key is counted on the user row, which a first call creates as any other route does.
        self.users.get_or_create(user_id, self.signup_credits)
        now = datetime.now(UTC)
        fresh = api_keys.new_secret()
        expires_at = (
            utc_timestamp(now + timedelta(days=request.expires_in_days)) if request.expires_in_days else None
        )
        key = ApiKey(
            key_id=fresh.key_id,
            user_id=user_id,
            name=request.name,
            prefix=fresh.prefix,
            secret_hash=fresh.secret_hash,
            created_at=utc_timestamp(now),
            expires_at=expires_at,
        )
        self.keys.create(key, self.max_per_user)
        logger.info("API key created", extra={"api_key_id": key.key_id})  # never the secret
        return ApiKeyCreated(**_detail(key).model_dump(), secret=fresh.secret)

    def list(self, user_id: str) -> ApiKeyList:
        return ApiKeyList(keys=[_detail(key) for key in self.keys.list_for_user(user_id)])

    def revoke(self, user_id: str, key_id: str) -> None:
        self.keys.delete(user_id, key_id)
        logger.info("API key revoked", extra={"api_key_id": key_id})


def _detail(key: ApiKeyInfo) -> ApiKeyDetail:
    return ApiKeyDetail(**key.model_dump(include=set(ApiKeyDetail.model_fields)))
