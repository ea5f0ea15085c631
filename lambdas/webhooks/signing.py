"""Standard Webhooks signatures (https://www.standardwebhooks.com/, symmetric `v1`), made by the
spec's own library, `standardwebhooks` (the webhook sender's layer: layers/webhooks/).

- Signed content: `{webhook-id}.{webhook-timestamp}.{body}` (the exact body bytes sent).
- `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, signed content)); the header is a
  space-separated list so a receiver can accept several secrets (we send one).
- `webhook-timestamp`: integer Unix seconds of this attempt (receivers reject stale ones).
- `webhook-id`: the same across retries of one message, so receivers can deduplicate.
The secret (`whsec_...`) and its key: secret.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from standardwebhooks import Webhook

from .secret import secret_key

# Stable namespace for message ids: uuid5(namespace, "job_id:type") is the same on every retry.
_MESSAGE_NAMESPACE = uuid.UUID("6f1c2a52-5d4e-4f7b-9a7c-0b8e3f1d2c11")


def message_id(job_id: str, event_type: str) -> str:
    """One id per (song, event type): retries and duplicate events share it."""
    return "msg_" + uuid.uuid5(_MESSAGE_NAMESPACE, f"{job_id}:{event_type}").hex


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    # The key is decoded strictly here (secret_key); the library signs with it.
    signed_at = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret_key(secret)).sign(msg_id, signed_at, body)


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
