"""GET /docs: the API reference page and the OpenAPI document, without a token."""

from __future__ import annotations

import json
import re

from lambdas.api import handler
from lambdas.api.app import openapi_document

from .conftest import FakeContext, proxy_event


def _get(query: dict[str, str] | None = None) -> dict:
    return handler.lambda_handler(proxy_event("GET", "/docs", user=None, query=query), FakeContext())


def test_docs_json_is_the_document_for_this_deployment(state_machine_arn) -> None:
    response = _get({"format": "json"})
    assert response["statusCode"] == 200
    served = json.loads(response["body"])
    committed = openapi_document()
    # The same document, with this deployment (the stage path) as its only server.
    assert served["servers"] == [{"url": "/v1"}]
    assert {**served, "servers": committed["servers"]} == committed


def test_docs_page_is_swagger_ui_with_no_external_assets(state_machine_arn) -> None:
    response = _get()
    assert response["statusCode"] == 200
    content_type = (
        response.get("headers", {}).get("Content-Type") or response["multiValueHeaders"]["Content-Type"][0]
    )
    assert content_type.startswith("text/html")
    page = response["body"]
    assert "SwaggerUIBundle(" in page and '"/songs/{song_id}"' in page
    # Swagger UI's JS and CSS are inlined from the Powertools package: nothing from a CDN.
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    assert "</script>" not in page.split("spec:", 1)[1].split("presets:", 1)[0]


def test_docs_are_built_once_per_base_path_and_format(state_machine_arn, monkeypatch) -> None:
    from lambdas.api import openapi

    built: list[str] = []
    real = openapi.document_dict

    def counting(app, servers=None, upload_max_bytes=None):
        built.append(servers[0].url)
        return real(app, servers, upload_max_bytes)

    monkeypatch.setattr(openapi, "document_dict", counting)
    openapi.docs_page.cache_clear()
    first = [_get(), _get({"format": "json"})]
    again = [_get(), _get({"format": "json"})]
    assert [r["body"] for r in again] == [r["body"] for r in first]
    assert built == ["/v1", "/v1"]
    openapi.docs_page.cache_clear()
