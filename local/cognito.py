"""Cognito on moto: users signed in for real (the authorizer, lambdas/authorizer, verifies their id
tokens against the pool's keys, which moto serves)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from botocore import UNSIGNED
from botocore.config import Config

from local import account
from local.account import REGION


@dataclass(frozen=True)
class CognitoSettings:
    endpoint_url: str
    user_pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        # moto issues tokens with the AWS issuer URL (cognito-idp.<region>.amazonaws.com/<pool>).
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        # moto serves the pool's keys at /<pool>/.well-known/jwks.json on its own port.
        return f"{self.endpoint_url}/{self.user_pool_id}/.well-known/jwks.json"


def local_password(username: str) -> str:
    """A deterministic per-user password, so `token USER` works from any shell against one stack.

    Local-only: the pool lives in moto's memory and disappears with the stack.
    """
    digest = hmac.new(b"song-service-local", username.encode(), hashlib.sha256).hexdigest()
    return f"Local-{digest[:20]}!"


def _client(settings: CognitoSettings, signed: bool) -> Any:
    config = Config(signature_version=UNSIGNED) if not signed else None
    return account.client("cognito-idp", settings.endpoint_url, config=config)


def ensure_user(settings: CognitoSettings, username: str) -> None:
    """Create a confirmed user with the local password unless they already exist (admin API, signed)."""
    admin = _client(settings, signed=True)
    try:
        admin.admin_get_user(UserPoolId=settings.user_pool_id, Username=username)
        return
    except admin.exceptions.UserNotFoundException:
        pass
    admin.admin_create_user(UserPoolId=settings.user_pool_id, Username=username, MessageAction="SUPPRESS")
    admin.admin_set_user_password(
        UserPoolId=settings.user_pool_id,
        Username=username,
        Password=local_password(username),
        Permanent=True,
    )


def sign_in(settings: CognitoSettings, username: str) -> str:
    """InitiateAuth with USER_PASSWORD_AUTH, as a public client would (unsigned); returns the id token."""
    ensure_user(settings, username)
    result = _client(settings, signed=False).initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=settings.client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": local_password(username)},
    )
    return str(result["AuthenticationResult"]["IdToken"])
