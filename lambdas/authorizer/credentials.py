"""Who a request's `Authorization: Bearer <credential>` is: a Cognito id token or a personal API key.

An id token is checked as API Gateway's Cognito authorizer checks it: its RS256 signature against
the pool's published keys (JWKS, fetched once and cached by PyJWT's client), its issuer (the
pool), its audience (the app client), `token_use` = id, and its expiry. An API key is found by the
key id in its secret and compared with the stored hash (lambdas/common/api_keys.py). Anything else
is Unauthorized; the reason is logged, never returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from lambdas.common import api_keys
from lambdas.common.contract import AUTH_BY_API_KEY, AUTH_BY_ID_TOKEN
from lambdas.common.media_keys import is_valid_user_id
from lambdas.common.store.api_keys import ApiKeyStore

JWKS_TIMEOUT_S = 5  # the authorizer itself has 10 s (stacks/api.py)
CLOCK_SKEW_S = 5  # tolerated between Cognito's clock and ours (exp, iat)
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss", "token_use"]


class Unauthorized(Exception):
    """No valid credential: API Gateway answers 401."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    method: str  # AUTH_BY_ID_TOKEN or AUTH_BY_API_KEY
    api_key_id: str | None = None


class Authenticator:
    def __init__(self, *, issuer: str, client_id: str, jwks_url: str, keys: ApiKeyStore) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=JWKS_TIMEOUT_S)
        self._keys = keys

    def identify(self, authorization: str | None) -> Identity:
        credential = bearer(authorization)
        if api_keys.looks_like_api_key(credential):
            return self._api_key(credential)
        return self._id_token(credential)

    def _api_key(self, secret: str) -> Identity:
        key_id = api_keys.key_id_of(secret)
        if key_id is None:
            raise Unauthorized("malformed API key")
        key = self._keys.authenticate(key_id, secret)
        if key is None:
            raise Unauthorized("unknown, revoked or expired API key")
        return Identity(key.user_id, AUTH_BY_API_KEY, key.key_id)

    def _id_token(self, token: str) -> Identity:
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],  # Cognito's; never what the token's header asks for
                audience=self.client_id,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": REQUIRED_CLAIMS},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise Unauthorized(f"invalid id token: {exc}") from None
        if claims["token_use"] != "id":  # noqa: S105 - a claim's value, not a password
            raise Unauthorized("not an id token")
        user_id = claims["sub"]
        if not isinstance(user_id, str) or not is_valid_user_id(user_id):
            raise Unauthorized("the token's subject is not a user id")
        return Identity(user_id, AUTH_BY_ID_TOKEN)


def bearer(authorization: str | None) -> str:
    """The credential of an `Authorization: Bearer <credential>` header (a bare credential too, as
    API Gateway's Cognito authorizer took it)."""
    if not authorization:
        raise Unauthorized("missing credential")
    scheme, _, rest = authorization.strip().partition(" ")
    credential = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
    if not credential:
        raise Unauthorized("missing credential")
    return credential
