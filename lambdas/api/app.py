"""The REST API's resolver: Powertools' APIGatewayRestResolver with the CORS origins, the strict JSON
parser, the error map and the routes; and the checks a request's body gets before routing.

`create_app` builds it at the function's cold start (handler.py), and without services for the
OpenAPI document (`openapi_document`, `python -m lambdas.api`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, content_types

from lambdas.common import errors
from lambdas.common.contract import CORS_ALLOW_HEADERS, CORS_MAX_AGE_S, DEFAULT_UPLOAD_MAX_MB

from . import http_errors, json_body, openapi, routes
from .services import Services

# The largest valid body is ~6 KiB of text; 64 KiB leaves room for JSON escapes (\uXXXX) and
# stops anything bigger before it is parsed.
MAX_BODY_BYTES = 64 * 1024
# (method, API Gateway resource) of the operations that take a body; every other route ignores one,
# as its OpenAPI operation lists no 400/413/415/422 for a body. A test checks it against the document.
ROUTES_WITH_BODY = frozenset(
    {("POST", "/songs"), ("POST", "/uploads"), ("POST", "/personas"), ("POST", "/me/api-keys")}
)


def create_app(
    cors_config: CORSConfig, services: Callable[[], Services] | None = None
) -> APIGatewayRestResolver:
    """The resolver with its routes and the browser origins it answers with CORS headers."""
    # The strict parser is the resolver's deserializer too, so no body reaches a route through plain json.
    app = APIGatewayRestResolver(
        enable_validation=True, cors=cors_config, json_body_deserializer=json_body.loads
    )
    http_errors.register(app)
    routes.register(app, services or _no_services)
    return app


def cors(origins: list[str]) -> CORSConfig:
    """The CORS answer for `origins` (the web app's first: API Gateway's own errors name it)."""
    origins = origins or ["*"]
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=list(CORS_ALLOW_HEADERS),
        max_age=CORS_MAX_AGE_S,
    )


def openapi_document(upload_max_mb: int = DEFAULT_UPLOAD_MAX_MB) -> dict[str, Any]:
    """The API's OpenAPI document (docs/openapi.json), for a deployment's upload limit."""
    return openapi.document_dict(create_app(cors(["*"])), upload_max_bytes=upload_max_mb * 1024 * 1024)


def _no_services() -> Services:
    raise RuntimeError("this resolver only describes the API (no services)")


def reject_before_routing(event: dict[str, Any]) -> errors.ServiceError | None:
    """Body checks that must run before Powertools parses the body (its validation runs first).

    Only the routes in ROUTES_WITH_BODY read one: on any other route (a cancel, a GET) a body is
    ignored (dropped from the event). Accepted bodies reach Powertools as UTF-8 text.
    """
    body = event.get("body")
    if not body:
        return None
    route = (str(event.get("httpMethod", "")).upper(), event.get("resource"))
    if route not in ROUTES_WITH_BODY:
        event["body"], event["isBase64Encoded"] = None, False
        return None
    # Base64 is 4 characters per 3 bytes; text is counted in UTF-8 bytes, as clients send it.
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        return errors.PayloadTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        json_body.check_media_type(headers.get("content-type"))
        text = json_body.decode(body, bool(event.get("isBase64Encoded")))
        parsed = json_body.loads(text)
    except errors.ServiceError as exc:
        return exc
    if not isinstance(parsed, dict):
        # Powertools would validate the first element of a JSON array as if it were the body.
        return errors.InvalidBody(
            "the request body is not valid",
            [{"field": "body", "message": "must be a JSON object", "type": "model_type"}],
        )
    event["body"], event["isBase64Encoded"] = text, False
    # Media types are case-insensitive; Powertools compares the header as written.
    for key in ("headers", "multiValueHeaders"):
        for name in [n for n in event.get(key) or {} if n.lower() == "content-type"]:
            value = json_body.JSON_MEDIA_TYPE
            event[key][name] = [value] if key == "multiValueHeaders" else value
    return None


def rejection(exc: errors.ServiceError, event: dict[str, Any], origins: CORSConfig) -> dict[str, Any]:
    """The proxy response for a request refused before routing (with the resolver's CORS headers)."""
    response = http_errors.from_service_error(exc)
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), None)
    headers = {"Content-Type": content_types.APPLICATION_JSON}
    headers.update(
        {name: value for name, value in response.headers.items() if isinstance(value, str)}
    )  # Retry-After
    headers.update(origins.to_dict(origins.allowed_origin(origin)))
    return {"statusCode": response.status_code, "headers": headers, "body": response.body}
