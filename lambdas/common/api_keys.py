"""Personal API keys: the secret's format, its hash and the check of a presented secret.

A secret is `sng_<key id>_<43 characters>`: the key id (16 hex characters, public: the row's key
and the path of DELETE /me/api-keys/{key_id}) and 256 random bits. Only the secret's SHA-256 is
stored. A slow password hash would add nothing: the secret is random and long, so its hash cannot
be searched, and the authorizer hashes on every uncached request. A presented secret is compared
with the stored hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from pydantic import Field

from .models import SafeText, StrictModel

SECRET_PREFIX = "sng_"  # noqa: S105 - the public marker of a key, not a secret
KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
SECRET_BYTES = 32  # 256 bits of entropy; token_urlsafe writes them as 43 characters
_SECRET = re.compile(r"^sng_(?P<key_id>[0-9a-f]{16})_[A-Za-z0-9_-]{43}$")
MAX_EXPIRY_DAYS = 3650


class ApiKeyRequest(StrictModel):
    """`POST /me/api-keys`: a name to recognise the key by, and optionally its lifetime."""

    name: SafeText = Field(min_length=1, max_length=100, description="Shown in the list; not secret")
    expires_in_days: int | None = Field(
        None, ge=1, le=MAX_EXPIRY_DAYS, description="The key stops working after this many days; null: never"
    )


@dataclass(frozen=True)
class NewSecret:
    key_id: str
    secret: str  # shown to its owner once, never stored
    secret_hash: str

    @property
    def prefix(self) -> str:
        """The secret's public start (`sng_<key id>`): what lists and logs may show of it."""
        return f"{SECRET_PREFIX}{self.key_id}"


def new_secret() -> NewSecret:
    key_id = secrets.token_hex(8)
    secret = f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewSecret(key_id, secret, hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def looks_like_api_key(credential: str) -> bool:
    """An API key rather than a JWT: the authorizer picks its check by this (a JWT starts `ey`)."""
    return credential.startswith(SECRET_PREFIX)


def key_id_of(secret: str) -> str | None:
    """The key id of a well-formed secret; None for anything else (it is then never looked up)."""
    match = _SECRET.match(secret)
    return match["key_id"] if match else None


def matches(secret: str, secret_hash: str) -> bool:
    """Whether `secret` is the one `secret_hash` was made from (constant-time comparison)."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)
