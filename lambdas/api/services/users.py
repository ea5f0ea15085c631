"""The caller as a user: credits (`GET /me`) and the webhook signing secret. A first call of any of
these creates the user with the configured sign-up credits."""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.common.observability import logger
from lambdas.common.store.users import UserStore
from lambdas.webhooks.secret import new_secret

from ..schemas import MeResponse, WebhookSecretResponse


@dataclass(frozen=True)
class UserService:
    users: UserStore
    signup_credits: int

    def me(self, user_id: str) -> MeResponse:
        user = self.users.get_or_create(user_id, self.signup_credits)
        return MeResponse(
            user_id=user.user_id,
            credits=user.credits,
            reserved_credits=user.reserved_credits,
            available_credits=user.available_credits,
        )

    def webhook_secret(self, user_id: str) -> WebhookSecretResponse:
        self.users.get_or_create(user_id, self.signup_credits)
        return WebhookSecretResponse(secret=self.users.webhook_secret(user_id, new_secret))

    def rotate_webhook_secret(self, user_id: str) -> WebhookSecretResponse:
        self.users.get_or_create(user_id, self.signup_credits)
        secret = self.users.rotate_webhook_secret(user_id, new_secret())
        logger.info("webhook secret rotated")  # never the secret itself
        return WebhookSecretResponse(secret=secret)
