"""The local API Gateway: Cognito authorizer + REST proxy integration in front of the API handler.

Requests to /v1/<path> are authorized (every route but GET /health needs a valid id token), turned
into the API Gateway REST proxy event the deployed Lambda receives, and handed to the real handler
in this process. Gateway-level failures answer like API Gateway does (401, 403 unknown route,
413 body too large, 502 when the function raises).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.account import ACCOUNT
from local.cognito import TokenVerifier, Unauthorized, authorizer_claims
from local.http_server import BackgroundHttpServer
from local.lambda_context import Handler, LambdaContext

log = logging.getLogger(__name__)

STAGE = "v1"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# The REST API's resources (stacks: the API unit); GET /health is the only one without the authorizer.
RESOURCES = (
    "/health",
    "/me",
    "/me/webhook-secret",
    "/me/webhook-secret/rotate",
    "/songs",
    "/songs/{song_id}",
    "/songs/{song_id}/cancel",
)
PUBLIC = {("GET", "/health")}


@dataclass(frozen=True)
class Route:
    resource: str
    path_parameters: dict[str, str] | None


def match_resource(path: str) -> Route | None:
    """Map a request path (without the stage) to its resource template and path parameters."""
    for resource in RESOURCES:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "/?$"
        found = re.match(pattern, path)
        if found:
            params = {k: unquote(v) for k, v in found.groupdict().items()}
            return Route(resource, params or None)
    return None


@dataclass
class GatewayRequest:
    method: str
    raw_path: str
    headers: dict[str, list[str]]
    body: bytes
    source_ip: str


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def proxy_event(request: GatewayRequest, route: Route, claims: dict[str, str] | None) -> dict[str, Any]:
    """The REST API (v1 payload) proxy event, with the authorizer's claims in the request context."""
    split = urlsplit(request.raw_path)
    path = split.path[len(f"/{STAGE}") :] or "/"
    query = parse_qs(split.query, keep_blank_values=True)
    body, is_b64 = _event_body(request)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": "local",
        "domainName": request.headers.get("host", ["localhost"])[0],
        "httpMethod": request.method,
        "path": split.path,
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "requestTimeEpoch": int(time.time() * 1000),
        "resourceId": "local",
        "resourcePath": route.resource,
        "stage": STAGE,
        "identity": {"sourceIp": request.source_ip, "userAgent": _first(request.headers, "user-agent")},
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": {_canonical(k): v[-1] for k, v in request.headers.items()},
        "multiValueHeaders": {_canonical(k): v for k, v in request.headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": route.path_parameters,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_b64,
    }


def _event_body(request: GatewayRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode(), True


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


# The gateway responses of the deployed API (stacks/api.py GATEWAY_ERRORS; a parity test checks them).
GATEWAY_ERROR_CODES = {401: "Unauthorized", 403: "BadRequest", 413: "PayloadTooLarge", 502: "InternalError"}


def _error(status: int, message: str) -> GatewayResponse:
    error = {
        "code": GATEWAY_ERROR_CODES[status],
        "message": message,
        "details": {"request_id": str(uuid.uuid4())},
    }
    return GatewayResponse(
        status, {"Content-Type": "application/json"}, json.dumps({"error": error}).encode()
    )


class ApiGateway:
    """Authorize, build the event, invoke the handler, translate its proxy response."""

    def __init__(self, verifier: TokenVerifier, handler: Handler) -> None:
        self._verifier = verifier
        self._handler = handler

    def handle(self, request: GatewayRequest) -> GatewayResponse:
        path = urlsplit(request.raw_path).path
        if not path.startswith(f"/{STAGE}/"):
            return _error(403, "Missing Authentication Token")
        route = match_resource(path[len(f"/{STAGE}") :])
        if route is None:
            # API Gateway's answer to an unknown resource (a DEFAULT_4XX gateway response).
            return _error(403, "Missing Authentication Token")
        if len(request.body) > MAX_BODY_BYTES:
            return _error(413, "Request Too Long")
        claims = None
        if (request.method, route.resource) not in PUBLIC and request.method != "OPTIONS":
            try:
                claims = authorizer_claims(self._verifier.claims(_first(request.headers, "authorization")))
            except Unauthorized as exc:
                log.info("unauthorized request to %s: %s", route.resource, exc)
                return _error(401, "Unauthorized")
        return self._invoke(proxy_event(request, route, claims))

    def _invoke(self, event: dict[str, Any]) -> GatewayResponse:
        try:
            result = self._handler(event, LambdaContext(function_name="api", timeout_s=29))
        except Exception:
            # API Gateway answers 502 when the function errors; the trace stays in this process's log.
            log.exception("API handler raised")
            return _error(502, "Internal server error")
        return _proxy_response(result)


def _proxy_response(result: dict[str, Any]) -> GatewayResponse:
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return GatewayResponse(int(result.get("statusCode", 200)), headers, body)


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: ApiGateway
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        request = GatewayRequest(self.command, self.path, headers, body, self.client_address[0])
        response = self.gateway.handle(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("api %s - %s", self.address_string(), format % args)


class ApiServer(BackgroundHttpServer):
    """The gateway on a local port, served by a thread per request (API Gateway is concurrent too)."""

    def __init__(self, gateway: ApiGateway, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(_RequestHandler, {"gateway": gateway}, port=port, host=host, name="api-front")

    @property
    def url(self) -> str:
        return f"{self.base_url}/{STAGE}"
