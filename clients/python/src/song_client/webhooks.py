"""Webhook signature verification with the Standard Webhooks library.

The service signs each delivery per https://www.standardwebhooks.com/ (`webhook-id`,
`webhook-timestamp`, `webhook-signature`) with the user's `whsec_...` secret
(`Client.webhook_secret()`). Verify against the raw body bytes exactly as received.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "verify_webhook"]


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> dict[str, Any]:
    """The event (`{"type", "timestamp", "data"}`) when the signature is valid and the timestamp
    is within five minutes of now; `WebhookVerificationError` otherwise (a forged, altered,
    stale or replayed-late delivery). Header names are matched case-insensitively.

    Deliveries are at least once: deduplicate on the `webhook-id` header.
    """
    event = Webhook(secret).verify(body, dict(headers))
    if not isinstance(event, dict):
        raise WebhookVerificationError("the payload is not a JSON object")
    return event
