"""The Lambda authorizer's answers: id tokens checked against a pool's published keys (served over
HTTP here, as Cognito serves them), personal API keys against their stored hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lambdas.common import runtime
from lambdas.common.clock import utc_timestamp
from lambdas.common.store.api_keys import ApiKey, ApiKeyStore
from lambdas.common.store.users import UserStore
from local.lambda_context import LambdaContext
from tests.factories import put_api_key

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool0001"
CLIENT_ID = "app-client-1"
KID = "pool-key-1"
USER = "5f0c1d2e-0000-4000-8000-00000000a11c"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/songs/x"
POOL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Jwks(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(POOL_KEY.public_key()))
    _Jwks.body = json.dumps({"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{ISSUER.rsplit('/', 1)[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def authorize(aws_env, jwks_url, monkeypatch):
    from lambdas.authorizer import handler

    monkeypatch.setenv("USER_POOL_ISSUER", ISSUER)
    monkeypatch.setenv("USER_POOL_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("USER_POOL_JWKS_URL", jwks_url)
    runtime.reset_all()

    def call(authorization: str | None, method_arn: str = METHOD_ARN) -> dict[str, Any]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        event = {"type": "REQUEST", "methodArn": method_arn, "headers": headers}
        return handler.lambda_handler(event, LambdaContext(function_name="authorizer", timeout_s=10))

    return call


def _token(key: Any = POOL_KEY, kid: str = KID, algorithm: str = "RS256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": USER,
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "cognito:username": "alice",
        **overrides,
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def _refused(authorize, authorization: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorization)


def test_a_valid_id_token_is_allowed_on_the_whole_stage_as_its_user(authorize) -> None:
    answer = authorize(f"Bearer {_token()}")
    assert answer["principalId"] == USER
    assert answer["context"] == {"sub": USER, "auth_method": "id_token"}
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "execute-api:Invoke"
    # Cached per credential and reused for every method: the policy covers the stage, nothing more.
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*/*"]


def test_a_bare_token_is_accepted_too(authorize) -> None:
    assert authorize(_token())["principalId"] == USER


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 60, "iat": int(time.time()) - 3660},
        {"aud": "another-client"},
        {"token_use": "access"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Another"},
        {"sub": "../../etc"},
    ],
    ids=["expired", "another-client", "access-token", "another-pools-issuer", "odd-subject"],
)
def test_tokens_with_wrong_claims_are_refused(authorize, overrides) -> None:
    _refused(authorize, f"Bearer {_token(**overrides)}")


def test_a_forged_signature_is_refused(authorize) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _refused(authorize, f"Bearer {_token(key=forger)}")


def test_another_pools_token_is_refused(authorize) -> None:
    """Another pool signs with its own keys: their kid is not in this pool's JWKS."""
    other_pool = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = _token(key=other_pool, kid="other-pool-key", iss=ISSUER.replace("Pool0001", "Pool0002"))
    _refused(authorize, f"Bearer {token}")


def test_an_hmac_token_keyed_with_the_public_key_is_refused(authorize) -> None:
    """The algorithm confusion attack: RS256 only, whatever the token's header says. (PyJWT will
    not sign such a token, so it is put together by hand.)"""
    public_pem = POOL_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    unsigned = _token().rsplit(".", 1)[0]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": KID}).encode()).rstrip(b"=").decode()
    unsigned = f"{header}.{unsigned.split('.')[1]}"
    mac = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    _refused(authorize, f"Bearer {unsigned}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}")


def test_an_unsigned_token_is_refused(authorize) -> None:
    _refused(authorize, f"Bearer {_token(key=None, algorithm='none')}")


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer   ", "Bearer not-a-jwt", "Basic dXNlcg=="]
)
def test_missing_or_malformed_credentials_are_refused(authorize, authorization) -> None:
    _refused(authorize, authorization)


# --- API keys --------------------------------------------------------------------------------


def _key(aws_env, *, expires_at: str | None = None) -> tuple[ApiKey, str]:
    UserStore(aws_env.users_table).get_or_create(USER, 10)
    store = ApiKeyStore(aws_env.api_keys_table, aws_env.users_table)
    return put_api_key(store, USER, expires_at=expires_at)


def test_a_valid_api_key_is_allowed_as_its_owner(authorize, aws_env) -> None:
    key, secret = _key(aws_env)
    answer = authorize(f"Bearer {secret}")
    assert answer["principalId"] == USER
    assert answer["context"] == {"sub": USER, "auth_method": "api_key", "api_key_id": key.key_id}
    assert ApiKeyStore(aws_env.api_keys_table).find(key.key_id).last_used_at is not None


def test_a_revoked_api_key_is_refused(authorize, aws_env) -> None:
    key, secret = _key(aws_env)
    ApiKeyStore(aws_env.api_keys_table, aws_env.users_table).delete(USER, key.key_id)
    _refused(authorize, f"Bearer {secret}")


def test_an_expired_api_key_is_refused(authorize, aws_env) -> None:
    _, secret = _key(aws_env, expires_at=utc_timestamp(datetime.now(UTC) - timedelta(seconds=1)))
    _refused(authorize, f"Bearer {secret}")


def test_a_forged_api_key_is_refused(authorize, aws_env) -> None:
    key, secret = _key(aws_env)
    forged = secret[: -len("x")] + ("x" if not secret.endswith("x") else "y")
    _refused(authorize, f"Bearer {forged}")
    _refused(authorize, f"Bearer sng_{'f' * 16}_{'a' * 43}")  # well formed, no such key
    _refused(authorize, f"Bearer {key.prefix}")  # the public part alone
