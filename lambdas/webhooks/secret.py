"""Webhook signing secrets per Standard Webhooks: `whsec_` + base64 of 32 random bytes.

The standard library only: the API creates and rotates secrets, and the signing library
(`standardwebhooks`) reaches only the webhook sender, in its layer (stacks/webhooks.py).
"""

from __future__ import annotations

import base64
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix the spec gives secrets, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret; anything else (a damaged stored secret) is refused."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("not a whsec_ secret")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
