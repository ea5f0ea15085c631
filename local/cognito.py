"""Cognito on moto: users signed in for real, id tokens verified the way the API Gateway authorizer does."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import jwt
from botocore import UNSIGNED
from botocore.config import Config

from local import account
from local.account import REGION


class Unauthorized(Exception):
    """The request carries no valid id token for this pool and app client."""


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


class TokenVerifier:
    """Checks an id token like API Gateway's Cognito authorizer: signature, issuer, audience, use, expiry."""

    def __init__(self, settings: CognitoSettings, leeway_s: int = 5) -> None:
        self._settings = settings
        self._keys = jwt.PyJWKClient(settings.jwks_url, cache_keys=True)
        self._leeway_s = leeway_s

    def claims(self, authorization: str | None) -> dict[str, Any]:
        token = _bearer(authorization)
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._settings.client_id,
                issuer=self._settings.issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "token_use"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise Unauthorized(str(exc)) from None
        if claims.get("token_use") != "id":
            raise Unauthorized("not an id token")
        return claims


def _bearer(authorization: str | None) -> str:
    # API Gateway's Cognito authorizer takes the raw token; "Bearer <token>" is what clients send too.
    if not authorization:
        raise Unauthorized("missing token")
    scheme, _, rest = authorization.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
    if not token:
        raise Unauthorized("missing token")
    return token


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway passes them to the integration: every value a string."""
    return {key: value if isinstance(value, str) else _claim_str(value) for key, value in claims.items()}


def _claim_str(value: Any) -> str:
    if isinstance(value, int) and value > 1_000_000_000:
        # API Gateway renders epoch claims (exp, iat, auth_time) as dates: "Mon Jan 01 00:00:00 UTC 2024".
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
    return str(value)
