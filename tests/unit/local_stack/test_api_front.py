"""The local API Gateway: authorizer decisions and the proxy event the handler receives."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.cognitoidp.models import load_resource

from local.api_front import ApiGateway, ApiServer, match_resource
from local.cognito import CognitoSettings, TokenVerifier, sign_in
from local.resources import create_user_pool


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["path"] == "/songs/boom":
        raise RuntimeError("handler bug")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"event": event, "function": context.function_name}),
    }


@pytest.fixture(scope="module")
def cognito(emulator, names) -> CognitoSettings:
    pool = create_user_pool(emulator.client("cognito-idp"), names)
    return CognitoSettings(emulator.url, pool.user_pool_id, pool.client_id)


@pytest.fixture(scope="module")
def api(cognito):
    server = ApiServer(ApiGateway(TokenVerifier(cognito), echo_handler))
    server.start()
    yield server.url
    server.stop()


def _forged(cognito: CognitoSettings, key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "forged-user",
        "iss": cognito.issuer,
        "aud": cognito.client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def _moto_private_key() -> Any:
    # moto signs every pool's tokens with this key; holding it lets a test forge claims precisely.
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def test_health_needs_no_token_and_gets_no_claims(api) -> None:
    response = requests.get(f"{api}/health", timeout=10)
    assert response.status_code == 200
    event = response.json()["event"]
    assert event["resource"] == "/health"
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-jwt"])
def test_missing_or_malformed_token_is_401(api, header) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{api}/me", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"


def test_signed_in_user_reaches_the_handler_with_claims(api, cognito) -> None:
    token = sign_in(cognito, "alice")
    response = requests.post(
        f"{api}/songs/abc-123?limit=5&limit=7",
        data=json.dumps({"x": 1}),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"},
        timeout=10,
    )
    assert response.status_code == 200
    event = response.json()["event"]
    claims = event["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == jwt.decode(token, options={"verify_signature": False})["sub"]
    assert claims["cognito:username"] == "alice"
    assert all(isinstance(v, str) for v in claims.values())
    assert event["resource"] == "/songs/{song_id}"
    assert event["path"] == "/songs/abc-123"
    assert event["pathParameters"] == {"song_id": "abc-123"}
    assert event["queryStringParameters"] == {"limit": "7"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5", "7"]}
    assert event["headers"]["Idempotency-Key"] == "k1"
    assert json.loads(event["body"]) == {"x": 1}
    assert event["requestContext"]["stage"] == "v1"
    assert response.json()["function"] == "api"


def test_a_raw_token_without_bearer_is_accepted_like_api_gateway(api, cognito) -> None:
    response = requests.get(f"{api}/me", headers={"Authorization": sign_in(cognito, "bob")}, timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"aud": "another-client"},
        {"token_use": "access"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"},
    ],
    ids=["expired", "audience", "access-token", "issuer"],
)
def test_tokens_with_wrong_claims_are_401(api, cognito, overrides) -> None:
    token = _forged(cognito, _moto_private_key(), **overrides)
    response = requests.get(f"{api}/me", headers={"Authorization": token}, timeout=10)
    assert response.status_code == 401


def test_correct_claims_signed_by_the_pools_key_pass(api, cognito) -> None:
    # The control for the case above: the forging helper itself yields a valid token.
    token = _forged(cognito, _moto_private_key())
    assert requests.get(f"{api}/me", headers={"Authorization": token}, timeout=10).status_code == 200


def test_token_signed_by_another_key_is_401(api, cognito) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = _forged(cognito, other_key)
    assert requests.get(f"{api}/me", headers={"Authorization": token}, timeout=10).status_code == 401


def test_unknown_route_and_missing_stage_are_403(api, cognito) -> None:
    headers = {"Authorization": sign_in(cognito, "alice")}
    assert requests.get(f"{api}/nope", headers=headers, timeout=10).status_code == 403
    assert requests.get(api.removesuffix("/v1") + "/songs", headers=headers, timeout=10).status_code == 403


def test_handler_exception_is_502_without_details(api, cognito) -> None:
    headers = {"Authorization": sign_in(cognito, "alice")}
    response = requests.get(f"{api}/songs/boom", headers=headers, timeout=10)
    assert response.status_code == 502
    assert "handler bug" not in response.text


def test_match_resource() -> None:
    assert match_resource("/songs").resource == "/songs"
    assert match_resource("/songs/a%20b").path_parameters == {"song_id": "a b"}
    assert match_resource("/songs/a/b") is None


def test_gateway_errors_carry_the_web_apps_origin(cognito) -> None:
    # Like the deployed gateway responses: the web app can read a 401/403 body, not just fail CORS.
    server = ApiServer(ApiGateway(TokenVerifier(cognito), echo_handler, cors_origin="http://127.0.0.1:5"))
    server.start()
    try:
        for path, status in (("/me", 401), ("/nowhere", 403)):
            response = requests.get(f"{server.url}{path}", timeout=10)
            assert response.status_code == status
            assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5"
    finally:
        server.stop()
