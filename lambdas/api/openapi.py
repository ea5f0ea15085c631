"""The OpenAPI document of the REST API, generated from the resolver and its pydantic models.

`python -m lambdas.api.openapi > docs/openapi.json` (or `make openapi`); a test fails when the
committed file is stale.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

TITLE = "Song generation service"
VERSION = "1.0.0"
DESCRIPTION = (
    "Request songs generated from a description or your own lyrics, follow them, download them. "
    "Every route except GET /health needs a Cognito ID token in the Authorization header. "
    'Errors are {"error": {"code", "message", "details"?}}.'
)


def document() -> str:
    """The OpenAPI JSON text, stable across runs (keys in insertion order, 2-space indent)."""
    from lambdas.api.handler import app

    schema = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url="https://{api_id}.execute-api.{region}.amazonaws.com/v1")],
        security_schemes={
            "cognito": APIKey(
                name="Authorization",
                in_=APIKeyIn.header,
                description="Cognito user pool ID token (the raw JWT, no `Bearer` prefix needed)",
            )
        },
    )
    return json.dumps(json.loads(schema), indent=2) + "\n"


if __name__ == "__main__":
    print(document(), end="")
