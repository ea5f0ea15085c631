"""The OpenAPI document of the REST API, generated from a resolver (lambdas/api/app.py) with its
routes and pydantic models.

`python -m lambdas.api > docs/openapi.json` (or `make openapi`); a test fails when the committed
file is stale, and tests/e2e/test_openapi_fuzz.py runs Schemathesis from it against the local
stack. The deployed API serves the same document (`GET /docs?format=json`) and an interactive page
(`GET /docs`), see `docs_page`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server, ServerVariable

from lambdas.common.contract import API_STAGE, DEFAULT_UPLOAD_MAX_MB

TITLE = "Song generation service"
VERSION = "1.0.0"
DESCRIPTION = (
    "Request songs generated from a description or your own lyrics, follow them, download them. "
    "Every route except GET /health needs a Cognito ID token in the Authorization header. "
    'Errors are {"error": {"code", "message", "details"?}}. Bodies are strict JSON (UTF-8, '
    "`Content-Type: application/json`, no duplicate keys, no NaN): anything else is 400 or 415."
)
SERVERS = [
    Server(
        url=f"https://{{api_id}}.execute-api.{{region}}.amazonaws.com/{API_STAGE}",
        description="A deployment (`cdk deploy` prints the API id as the stack output ApiUrl)",
        variables={
            "api_id": ServerVariable(default="abc123defg", description="The REST API id"),
            "region": ServerVariable(default="us-east-1", description="The AWS region of the stack"),
        },
    ),
    Server(
        url=f"http://127.0.0.1:{{port}}/{API_STAGE}",
        description="The local stack (`make local`; the port is printed at start)",
        variables={"port": ServerVariable(default="8000", description="`--api-port` of `make local`")},
    ),
]
SECURITY_SCHEMES = {
    "bearer": HTTPBearer(
        description="`Authorization: Bearer <credential>`: a Cognito user pool id token (a signed-in "
        "session) or a personal API key (`sng_...`, from POST /me/api-keys)",
    )
}
# Powertools gives every operation its 422 (request validation); this API answers 422 only for a
# body that fails its schema (bad paths, queries and headers are 400: lambdas/api/http_errors.py).
_BODY_ONLY_STATUS = "422"
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ResponseValidationError", "ValidationError")


def document_dict(
    app: APIGatewayRestResolver,
    servers: list[Server] | None = None,
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_MB * 1024 * 1024,
) -> dict[str, Any]:
    """The document of `app`'s routes; `servers` replaces the documented ones (the served copy), and
    the upload size limit is the deployment's (UploadService.create enforces it)."""
    schema = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=servers or SERVERS,
        security_schemes=SECURITY_SCHEMES,
    )
    spec = json.loads(schema)
    for item in spec["paths"].values():
        for operation in item.values():
            if "requestBody" not in operation:
                operation["responses"].pop(_BODY_ONLY_STATUS, None)
            # A 204 has no body (Powertools documents one for a route's own status code).
            operation["responses"].get("204", {}).pop("content", None)
            # Public operations say so: an empty requirement, not a missing one.
            operation.setdefault("security", [])
    schemas = spec.get("components", {}).get("schemas", {})
    schemas["UploadRequest"]["properties"]["size_bytes"]["maximum"] = upload_max_bytes
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:  # in order: the first refers to the last
        if f'"#/components/schemas/{name}"' not in json.dumps(spec):
            schemas.pop(name, None)
    return spec


def text(spec: dict[str, Any]) -> str:
    """The OpenAPI JSON text, stable across runs (keys in insertion order, 2-space indent)."""
    return json.dumps(spec, indent=2) + "\n"


# Public and unchanging for the life of the Lambda container: build each variant once, not per
# request (the page inlines a ~1.4 MB Swagger bundle). A stage and a custom domain: 2 x 2 entries.
@functools.lru_cache(maxsize=8)
def docs_page(
    app: APIGatewayRestResolver, base_path: str, want_json: bool, upload_max_bytes: int
) -> tuple[str, str]:
    """(content type, body) of `GET /docs`: Powertools' Swagger UI page, or the document itself.

    The served document names this deployment (`base_path`) as its server, so "Try it out" calls
    the API that served the page. Swagger UI's JS and CSS ship inside the Powertools package and are
    inlined into the page: it loads nothing from a CDN.
    """
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    spec = json.dumps(document_dict(app, [Server(url=base_path or "/")], upload_max_bytes))
    if want_json:
        return "application/json", spec
    assets = Path(swagger_ui.__file__).parent
    html = generate_swagger_html(
        spec.replace("</", "<\\/"),  # the spec sits inside a <script> element
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )
    return "text/html; charset=utf-8", html
