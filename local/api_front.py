"""The local API Gateway: the Lambda authorizer + REST proxy integration in front of the API handler.

Requests to /v1/<path> are authorized by the service's own authorizer function (lambdas/authorizer,
invoked in this process with the REQUEST event API Gateway sends it; every route but GET /health
and the docs needs a valid id token or API key), turned into the API Gateway REST proxy event the
deployed Lambda receives, and handed to the real handler in this process. Unlike the deployed
stage, answers are not cached: a revoked API key stops working at once. Gateway-level failures
answer like API Gateway does, in the JSON error shape of the deployed gateway responses (401, 403
for a denied policy or "Missing Authentication Token" for an unknown resource or method, TRACE
included, 413 body too large, 500 when the authorizer fails, 502 when the function raises). Like
one Lambda execution environment, each function serves one request at a time.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from lambdas.common.contract import API_STAGE as STAGE
from lambdas.common.contract import AUTH_BY_ID_TOKEN, DOCS_PATH
from local.account import ACCOUNT, REGION
from local.http_server import BackgroundHttpServer, BadContentLength, QuietHandler, drain, read_body
from local.lambda_context import Handler, LambdaContext

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Route:
    resource: str
    path_parameters: dict[str, str] | None


@dataclass(frozen=True)
class RouteTable:
    """The deployed REST API's methods: resource template -> methods, and which need no token.

    Built from the OpenAPI document (`from_openapi`), so a route added to the API is served here
    without a second list; tests/infra/test_local_parity.py checks it against the synthesized
    template's AWS::ApiGateway::Method resources.
    """

    methods: dict[str, frozenset[str]]
    public: frozenset[tuple[str, str]]

    @classmethod
    def from_openapi(cls, spec: dict[str, Any], extra_public: tuple[tuple[str, str], ...] = ()) -> RouteTable:
        methods: dict[str, set[str]] = {}
        public = set(extra_public)
        for resource, item in spec["paths"].items():
            for method, operation in item.items():
                methods.setdefault(resource, set()).add(method.upper())
                if not operation.get("security"):
                    public.add((method.upper(), resource))
        for method, resource in extra_public:
            methods.setdefault(resource, set()).add(method)
        return cls({r: frozenset(m) for r, m in methods.items()}, frozenset(public))

    def match(self, path: str) -> Route | None:
        """Map a request path (without the stage) to its resource template and path parameters."""
        # Static resources first, as API Gateway prefers /songs/cancel over /songs/{song_id}.
        for resource in sorted(self.methods, key=lambda r: ("{" in r, r)):
            pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "/?$"
            found = re.match(pattern, path)
            if found:
                params = {k: unquote(v) for k, v in found.groupdict().items()}
                return Route(resource, params or None)
        return None

    def allows(self, method: str, resource: str) -> bool:
        # Every resource answers the CORS preflight (the stack's default_cors_preflight_options).
        return method == "OPTIONS" or method in self.methods.get(resource, ())

    def is_public(self, method: str, resource: str) -> bool:
        return method == "OPTIONS" or (method, resource) in self.public


def service_routes() -> RouteTable:
    """The service's routes: every operation of its OpenAPI document, plus the public docs page."""
    from lambdas.api.app import openapi_document

    return RouteTable.from_openapi(openapi_document(), extra_public=(("GET", DOCS_PATH),))


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


def proxy_event(request: GatewayRequest, route: Route, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    """The REST API (v1 payload) proxy event, with the authorizer's answer (principalId and its
    context) in the request context."""
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
    if authorizer is not None:
        context["authorizer"] = authorizer
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


def authorizer_event(request: GatewayRequest, route: Route) -> dict[str, Any]:
    """The REQUEST authorizer event of a REST API: the request's parts and the method's ARN."""
    event = proxy_event(request, route, None)
    del event["body"], event["isBase64Encoded"]
    method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/{STAGE}/{request.method}{event['path']}"
    return {"type": "REQUEST", "methodArn": method_arn, **event}


def authorizer_answer(
    user_id: str, auth_method: str = AUTH_BY_ID_TOKEN, api_key_id: str | None = None
) -> dict[str, Any]:
    """requestContext.authorizer as API Gateway passes an allowed caller on: for tests and benchmarks
    that drive the API function without running the authorizer."""
    from lambdas.authorizer.credentials import Identity
    from lambdas.authorizer.handler import context_of

    return {"principalId": user_id, **context_of(Identity(user_id, auth_method, api_key_id))}


def api_event(
    method: str,
    path: str,
    *,
    authorizer: dict[str, Any] | None = None,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
    source_ip: str = "203.0.113.9",
) -> dict[str, Any]:
    """The proxy event API Gateway hands the function for one request to `path` (under the stage),
    authorized with `authorizer` (`authorizer_answer`; None: a public route): what the tests and the
    benchmarks drive the handler with, built by the same code as the local front's. `base64_body`
    sends the body as API Gateway does for binary media types."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    raw_path = f"/{STAGE}{path}" + (f"?{urlencode(query)}" if query else "")
    request = GatewayRequest(
        method, raw_path, {k.lower(): [v] for k, v in (headers or {}).items()}, raw, source_ip
    )
    # A path no route serves still reaches the function in a test (Powertools answers it).
    route = _service_routes().match(path) or Route(path, None)
    event = proxy_event(request, route, authorizer)
    if base64_body:
        event["body"], event["isBase64Encoded"] = (body if isinstance(body, str) else raw.decode()), True
    return event


@functools.cache
def _service_routes() -> RouteTable:
    return service_routes()


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


# The gateway responses of the deployed API (stacks/api.py GATEWAY_ERRORS; a parity test checks them):
# the specific ones by status, the DEFAULT_4XX / DEFAULT_5XX codes for every other status.
GATEWAY_ERROR_CODES = {401: "Unauthorized", 413: "PayloadTooLarge", 429: "TooManyRequests"}
ACCESS_DENIED_CODE = "Forbidden"  # the ACCESS_DENIED response: the authorizer's policy denies the method
DEFAULT_4XX_CODE = "BadRequest"
DEFAULT_5XX_CODE = "InternalError"
# API Gateway's message for an unknown resource or method.
UNKNOWN_ROUTE_MESSAGE = "Missing Authentication Token"


def gateway_error(
    status: int, message: str, cors_origin: str | None = None, code: str | None = None
) -> GatewayResponse:
    code = code or GATEWAY_ERROR_CODES.get(status, DEFAULT_4XX_CODE if status < 500 else DEFAULT_5XX_CODE)
    error = {"code": code, "message": message, "details": {"request_id": str(uuid.uuid4())}}
    headers = {"Content-Type": "application/json"}
    if cors_origin:
        # Like the deployed gateway responses: the web app can read the error, not just fail.
        headers["Access-Control-Allow-Origin"] = cors_origin
    return GatewayResponse(status, headers, json.dumps({"error": error}).encode())


class AuthorizerRefused(Exception):
    def __init__(self, response: GatewayResponse) -> None:
        self.response = response


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM's evaluation of an authorizer's policy for one method: an explicit Deny wins, else an
    Allow must match (`*` in a resource matches any characters, `/` included)."""
    effects = set()
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions) and any(
            fnmatch.fnmatchcase(method_arn, r) for r in resources
        ):
            effects.add(statement.get("Effect"))
    return "Deny" not in effects and "Allow" in effects


class ApiGateway:
    """Authorize, build the event, invoke the handler, translate its proxy response."""

    def __init__(
        self, authorizer: Handler, handler: Handler, routes: RouteTable, cors_origin: str | None = None
    ) -> None:
        self._authorizer = authorizer
        self._handler = handler
        self.routes = routes
        self._cors_origin = cors_origin
        # One Lambda execution environment runs one request at a time; the handler's module state
        # (the Powertools resolver's current event and response) is not safe to share between threads.
        self._environment = threading.Lock()
        self._authorizer_environment = threading.Lock()

    def handle(self, request: GatewayRequest) -> GatewayResponse:
        path = urlsplit(request.raw_path).path
        if not path.startswith(f"/{STAGE}/"):
            return gateway_error(403, UNKNOWN_ROUTE_MESSAGE, self._cors_origin)
        route = self.routes.match(path[len(f"/{STAGE}") :])
        if route is None or not self.routes.allows(request.method, route.resource):
            # API Gateway's answer to an unknown resource or method (a DEFAULT_4XX gateway response).
            return gateway_error(403, UNKNOWN_ROUTE_MESSAGE, self._cors_origin)
        if len(request.body) > MAX_BODY_BYTES:
            return gateway_error(413, "Request Too Long", self._cors_origin)
        authorizer = None
        if not self.routes.is_public(request.method, route.resource):
            try:
                authorizer = self._authorize(request, route)
            except AuthorizerRefused as refused:
                return refused.response
        return self._invoke(proxy_event(request, route, authorizer))

    def _authorize(self, request: GatewayRequest, route: Route) -> dict[str, Any]:
        """The authorizer's answer as requestContext.authorizer, or AuthorizerRefused with API
        Gateway's response: 401 without an Authorization header (the identity source) or when the
        function says "Unauthorized", 403 when its policy denies the method, 500 when it fails."""
        if not _first(request.headers, "authorization"):
            raise AuthorizerRefused(gateway_error(401, "Unauthorized", self._cors_origin))
        event = authorizer_event(request, route)
        with self._authorizer_environment:
            try:
                answer = self._authorizer(event, LambdaContext(function_name="authorizer", timeout_s=10))
            except Exception as exc:
                if str(exc) == "Unauthorized":
                    raise AuthorizerRefused(gateway_error(401, "Unauthorized", self._cors_origin)) from None
                log.exception("the authorizer raised")
                raise AuthorizerRefused(
                    gateway_error(500, "Internal server error", self._cors_origin)
                ) from None
        if not policy_allows(answer.get("policyDocument") or {}, event["methodArn"]):
            message = "User is not authorized to access this resource"
            raise AuthorizerRefused(gateway_error(403, message, self._cors_origin, ACCESS_DENIED_CODE))
        # API Gateway passes the context's values on as strings, beside the principal.
        context = {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in (answer.get("context") or {}).items()
        }
        return {"principalId": answer["principalId"], **context}

    def _invoke(self, event: dict[str, Any]) -> GatewayResponse:
        with self._environment:
            try:
                result = self._handler(event, LambdaContext(function_name="api", timeout_s=29))
            except Exception:
                # API Gateway answers 502 when the function errors; the trace stays in this log.
                log.exception("API handler raised")
                return gateway_error(502, "Internal server error", self._cors_origin)
        return _proxy_response(result)


def _proxy_response(result: dict[str, Any]) -> GatewayResponse:
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return GatewayResponse(int(result.get("statusCode", 200)), headers, body)


class _RequestHandler(QuietHandler):
    gateway: ApiGateway
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        try:
            body = read_body(self, MAX_BODY_BYTES)
        except BadContentLength as exc:
            self._send(gateway_error(exc.status, exc.message))
            drain(self)
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        request = GatewayRequest(self.command, self.path, headers, body, self.client_address[0])
        self._send(self.gateway.handle(request))

    def _send(self, response: GatewayResponse) -> None:
        if response.status in (204, 304):  # no body, whatever the handler said (RFC 9110)
            response = GatewayResponse(response.status, response.headers, b"")
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Any:
        # http.server dispatches to do_<METHOD> and answers an HTML 501 when there is none; the
        # gateway takes every method (TRACE, PROPFIND, ...) and refuses unknown ones itself.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed request lines and oversized headers: JSON like every other gateway error, with a
        # status line even when the request line was unreadable (http.server would assume HTTP/0.9).
        self.request_version = self.protocol_version
        self.close_connection = True
        self._send(gateway_error(code, message or HTTPStatus(code).phrase))


class ApiServer(BackgroundHttpServer):
    """The gateway on a local port; requests are read in parallel, the handler runs one at a time."""

    def __init__(self, gateway: ApiGateway, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(_RequestHandler, {"gateway": gateway}, port=port, host=host, name="api-front")

    @property
    def url(self) -> str:
        return f"{self.base_url}/{STAGE}"
