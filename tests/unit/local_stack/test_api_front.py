"""The local API Gateway: the service's authorizer (run as API Gateway runs it), its decisions, and
the proxy event the handler receives."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.cognitoidp.models import load_resource

from lambdas.common import contract
from local.api_front import ApiGateway, ApiServer, RouteTable, policy_allows, service_routes
from local.cognito import CognitoSettings, sign_in
from local.functions import load, local_values
from local.lambda_context import Handler
from local.resources import create_user_pool
from stacks.config import ServiceConfig

from .raw_http import raw_request


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
def authorizer(cognito, names, emulator) -> Handler:
    """The authorizer function with the environment the local stack gives it (moto's pool)."""
    values = local_values(ServiceConfig(), names, state_machine_arn="arn", api_origins="*", user_pool=cognito)
    return load("authorizer", contract.function_environment("authorizer", values))


@pytest.fixture(scope="module")
def api(authorizer):
    server = ApiServer(ApiGateway(authorizer, echo_handler, service_routes()))
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


def test_signed_in_user_reaches_the_handler_as_the_authorizer_passes_them(api, cognito) -> None:
    token = sign_in(cognito, "alice")
    response = requests.delete(
        f"{api}/songs/abc-123?limit=5&limit=7",
        data=json.dumps({"x": 1}),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"},
        timeout=10,
    )
    assert response.status_code == 200
    event = response.json()["event"]
    sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    assert event["requestContext"]["authorizer"] == {
        "principalId": sub,
        "sub": sub,
        "auth_method": "id_token",
    }
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


@pytest.mark.parametrize(
    ("method", "path"),
    [("TRACE", "/songs"), ("PUT", "/songs"), ("PATCH", "/me"), ("POST", "/health"), ("FOO", "/me")],
)
def test_unknown_method_is_403_json_like_api_gateway(api, cognito, method, path) -> None:
    # API Gateway REST answers a method a resource does not have like an unknown resource.
    headers = {"Authorization": sign_in(cognito, "alice")}
    response = requests.request(method, f"{api}{path}", headers=headers, timeout=10)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "BadRequest"
    assert response.json()["error"]["message"] == "Missing Authentication Token"


def test_head_gets_the_status_without_a_body(api) -> None:
    response = requests.head(f"{api}/health", timeout=10)
    assert response.status_code == 403
    assert response.content == b""


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5"])
def test_bad_content_length_is_400_at_once(api, length) -> None:
    # The server must neither wait for a body that never comes nor read past the request.
    request = f"POST /v1/songs HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
    head, body = raw_request(api, request.encode())
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["message"] == "invalid Content-Length"


def _big_post(api: str, size: int, headers: str = "") -> tuple[bytes, bytes]:
    """A client that sends its whole body before it reads anything (as many do)."""
    parts = urlsplit(api)
    head = f"POST /v1/songs HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n{headers}\r\n".encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        block = b"x" * 65536
        for _ in range(size // len(block)):
            sock.sendall(block)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_and_headers, _, body = answer.partition(b"\r\n\r\n")
    return status_and_headers, body


def test_an_oversized_body_gets_a_readable_413_even_when_sent_in_full(api) -> None:
    """API Gateway's 10 MB payload limit: a 12 MB body is answered 413 with the JSON error, and
    the front reads (and drops) the rest, so the client that sends it all still reads the answer
    instead of a connection reset."""
    head, body = _big_post(api, 12 * 1024 * 1024)
    assert head.startswith(b"HTTP/1.1 413") and b"Connection: close" in head
    error = json.loads(body)["error"]
    assert (error["code"], error["message"]) == ("PayloadTooLarge", "Request Too Long")


def test_a_chunked_body_is_decoded_and_held_to_the_limit(api, cognito) -> None:
    token = sign_in(cognito, "alice")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def chunks(total: int, size: int = 65536):  # requests sends a generator body chunked
        for start in range(0, total, size):
            yield b"x" * min(size, total - start)

    small = requests.post(f"{api}/songs", data=(c for c in [b'{"a":', b" 1}"]), headers=auth, timeout=10)
    assert small.status_code == 200
    assert small.json()["event"]["body"] == '{"a": 1}'
    big = requests.post(f"{api}/songs", data=chunks(11 * 1024 * 1024), headers=auth, timeout=30)
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "PayloadTooLarge"


def test_a_malformed_chunked_body_is_a_400(api) -> None:
    request = (
        b"POST /v1/songs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    head, body = raw_request(api, request)
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["message"] == "invalid chunked body"


def test_malformed_request_line_is_a_json_error(api) -> None:
    head, body = raw_request(api, b"GET /v1/health HTTP/9.9\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 505")
    assert json.loads(body)["error"]["code"] == "InternalError"


def test_the_handler_runs_one_request_at_a_time(authorizer) -> None:
    active, peak, lock = 0, 0, threading.Lock()

    def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return {"statusCode": 200, "body": "{}"}

    server = ApiServer(ApiGateway(authorizer, slow_handler, service_routes()))
    server.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(
                pool.map(lambda _: requests.get(f"{server.url}/health", timeout=10).status_code, range(8))
            )
    finally:
        server.stop()
    assert codes == [200] * 8
    assert peak == 1


def test_handler_exception_is_502_without_details(api, cognito) -> None:
    headers = {"Authorization": sign_in(cognito, "alice")}
    response = requests.get(f"{api}/songs/boom", headers=headers, timeout=10)
    assert response.status_code == 502
    assert "handler bug" not in response.text


def test_route_table_matches_templates_static_first() -> None:
    spec = {
        "paths": {
            "/songs/{song_id}": {"get": {"security": [{"bearer": []}]}},
            "/songs/cancel": {"post": {"security": [{"bearer": []}]}},
            "/health": {"get": {"security": []}},
        }
    }
    routes = RouteTable.from_openapi(spec, extra_public=(("GET", "/docs"),))
    assert routes.match("/songs/a%20b").path_parameters == {"song_id": "a b"}
    assert routes.match("/songs/cancel").resource == "/songs/cancel"
    assert routes.match("/songs/a/b") is None
    assert routes.public == {("GET", "/health"), ("GET", "/docs")}
    assert routes.allows("OPTIONS", "/songs/cancel")
    assert not routes.allows("GET", "/songs/cancel")


def test_gateway_errors_carry_the_web_apps_origin(authorizer) -> None:
    # Like the deployed gateway responses: the web app can read a 401/403 body, not just fail CORS.
    server = ApiServer(
        ApiGateway(authorizer, echo_handler, service_routes(), cors_origin="http://127.0.0.1:5")
    )
    server.start()
    try:
        for path, status in (("/me", 401), ("/nowhere", 403)):
            response = requests.get(f"{server.url}{path}", timeout=10)
            assert response.status_code == status
            assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5"
    finally:
        server.stop()


def test_a_204_goes_out_without_a_body_whatever_the_handler_said(authorizer) -> None:
    """Two requests on one keep-alive connection: a body on the first (a 204) would be read as the
    start of the second response."""

    def no_content(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 204, "headers": {"Content-Type": "application/json"}, "body": "null"}

    server = ApiServer(ApiGateway(authorizer, no_content, service_routes()))
    server.start()
    try:
        with requests.Session() as session:
            first = session.get(f"{server.url}/health", timeout=10)
            second = session.get(f"{server.url}/health", timeout=10)
    finally:
        server.stop()
    assert (first.status_code, first.content) == (204, b"")
    assert (second.status_code, second.content) == (204, b"")


def _answering(answer: Any) -> Handler:
    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return authorizer


def _policy(effect: str, resource: str) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}
    return {"principalId": "u1", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (Exception("Unauthorized"), 401, "Unauthorized"),
        (RuntimeError("table missing"), 500, "InternalError"),
        (_policy("Deny", "arn:aws:execute-api:*"), 403, "Forbidden"),
        (_policy("Allow", "arn:aws:execute-api:us-east-1:*:local/v1/GET/songs"), 403, "Forbidden"),
    ],
    ids=["unauthorized", "authorizer-fails", "denied", "allowed-elsewhere"],
)
def test_the_authorizers_refusals_answer_as_api_gateway_does(answer, status, code) -> None:
    server = ApiServer(ApiGateway(_answering(answer), echo_handler, service_routes()))
    server.start()
    try:
        response = requests.get(f"{server.url}/me", headers={"Authorization": "Bearer x"}, timeout=10)
    finally:
        server.stop()
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_the_authorizers_event_and_context_reach_the_handler() -> None:
    seen: list[dict[str, Any]] = []

    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        return {
            **_policy("Allow", "arn:aws:execute-api:us-east-1:*:local/v1/*/*"),
            "context": {"n": 3, "ok": True},
        }

    server = ApiServer(ApiGateway(authorizer, echo_handler, service_routes()))
    server.start()
    try:
        response = requests.get(
            f"{server.url}/songs/abc?x=1", headers={"Authorization": "Bearer t"}, timeout=10
        )
    finally:
        server.stop()
    (event,) = seen
    assert event["type"] == "REQUEST" and event["headers"]["Authorization"] == "Bearer t"
    assert event["methodArn"].endswith(":local/v1/GET/songs/abc")
    assert "body" not in event
    assert response.json()["event"]["requestContext"]["authorizer"] == {
        "principalId": "u1",
        "n": "3",
        "ok": "true",
    }


def test_policy_evaluation_denies_win_and_wildcards_span_slashes() -> None:
    arn = "arn:aws:execute-api:us-east-1:1:local/v1/DELETE/me/api-keys/k"
    allow_all = _policy("Allow", "arn:aws:execute-api:us-east-1:1:local/v1/*/*")["policyDocument"]
    assert policy_allows(allow_all, arn)
    deny = {
        "Effect": "Deny",
        "Action": "execute-api:Invoke",
        "Resource": "arn:aws:execute-api:*/me/api-keys*",
    }
    assert not policy_allows({"Statement": [*allow_all["Statement"], deny]}, arn)
    assert not policy_allows({"Statement": []}, arn)
