"""The users table's profile part: the user row itself and the webhook signing secret.

Credits live on the same row but change only through the credit ledger (ledger.py); the running
jobs (`active_jobs`) only through the slots (slots.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ..clock import utc_now
from ..models import User
from .dynamo import CONDITION_FAILED, TableStore, to_dynamo, unless


class UserStore(TableStore):
    def find(self, user_id: str) -> User | None:
        item = self._get({"user_id": user_id})
        return User.model_validate(item) if item else None

    def get_or_create(self, user_id: str, signup_credits: int) -> User:
        """First use creates the user with the sign-up credits; a concurrent first use cannot double it."""
        user = self.find(user_id)
        if user is not None:
            return user
        new_user = User(user_id=user_id, credits=signup_credits, created_at=utc_now())
        created = unless(
            CONDITION_FAILED,
            lambda: self._table.put_item(
                Item=to_dynamo(new_user.model_dump()), ConditionExpression="attribute_not_exists(user_id)"
            ),
        )
        if created is not None:
            return new_user
        # Lost the race: someone else created the user first; theirs is the row.
        existing = self.find(user_id)
        if existing is None:  # pragma: no cover - deleted between the two calls
            raise RuntimeError(f"user {user_id} vanished while being created")
        return existing

    def webhook_secret(self, user_id: str, new_secret: Callable[[], str]) -> str:
        """The user's webhook signing secret; the first call stores `new_secret()` (two concurrent
        first calls agree on one). It lives on the user row: the table is encrypted at rest (KMS),
        and the secret is never logged. Once it exists this is a read (every webhook delivery asks).
        """
        item = self._get({"user_id": user_id}, ProjectionExpression="webhook_secret")
        if item and item.get("webhook_secret"):
            return str(item["webhook_secret"])
        response = self._table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="SET webhook_secret = if_not_exists(webhook_secret, :secret)",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":secret": new_secret()},
            ReturnValues="ALL_NEW",
        )
        return str(response["Attributes"]["webhook_secret"])

    def rotate_webhook_secret(self, user_id: str, new_secret: str) -> str:
        """Replace the secret; deliveries signed from now on use the new one."""
        self._table.update_item(
            Key={"user_id": user_id},
            UpdateExpression="SET webhook_secret = :secret, webhook_secret_rotated_at = :now",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":secret": new_secret, ":now": utc_now()},
        )
        return new_secret
