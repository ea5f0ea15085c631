"""Standard Webhooks signatures (https://www.standardwebhooks.com/, symmetric `v1`).

- The secret is `whsec_` + base64 of 32 random bytes; the HMAC key is the base64-decoded part.
- Signed content: `{webhook-id}.{webhook-timestamp}.{body}` (the exact body bytes sent).
- `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, signed content)); the header is a
  space-separated list so a receiver can accept several secrets (we send one).
- `webhook-timestamp`: integer Unix seconds of this attempt (receivers reject stale ones).
- `webhook-id`: the same across retries of one message, so receivers can deduplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix the spec gives secrets, not a secret
SECRET_BYTES = 32
# Stable namespace for message ids: uuid5(namespace, "job_id:type") is the same on every retry.
_MESSAGE_NAMESPACE = uuid.UUID("6f1c2a52-5d4e-4f7b-9a7c-0b8e3f1d2c11")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("not a whsec_ secret")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def message_id(job_id: str, event_type: str) -> str:
    """One id per (song, event type): retries and duplicate events share it."""
    return "msg_" + uuid.uuid5(_MESSAGE_NAMESPACE, f"{job_id}:{event_type}").hex


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
