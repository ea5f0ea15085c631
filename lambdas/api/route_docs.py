"""What every route's OpenAPI entry shares: the security requirement, the success and error
responses it lists (each status it can answer, success first) and the body-less 204."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from .schemas import ErrorResponse

SECURITY = [{"bearer": []}]
# The query parameters of every paged list (GET /songs, GET /personas).
PageSize = Annotated[int, Query(ge=1, le=50, description="Page size")]
NextToken = Annotated[
    str | None,
    Query(
        max_length=2048, description="The opaque `next_token` of the previous page; any other value is 400"
    ),
]
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying; sent with `RateLimited` and `ConcurrentRequests`",
    "schema": {"type": "integer", "minimum": 1},
}


def ok_response(status: int, description: str, model: type | None = None) -> dict[int | str, dict[str, Any]]:
    content = {"content": {"application/json": {"model": model}}} if model else {}
    return {status: {"description": description, **content}}


def created_response(
    status: int, description: str, model: type, *, id_parameter: str, id_field: str, follow: tuple[str, ...]
) -> dict[int | str, dict[str, Any]]:
    """`ok_response` with OpenAPI links: how a client (or an API tester) follows what it made, its id
    (`id_field` of the body) feeding the `follow` operations' `id_parameter`."""
    response = ok_response(status, description, model)
    response[status]["links"] = {
        op: {"operationId": op, "parameters": {id_parameter: f"$response.body#/{id_field}"}} for op in follow
    }
    return response


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Malformed request (bad JSON, id, query or header)",
        401: "Missing or invalid credential (id token or API key)",
        402: "The available credits do not cover the song's price (details: price and balance)",
        403: "Key management needs a signed-in session (an id token), not an API key",
        404: "Not found, or not yours",
        409: "Conflict (or a source not ready yet)",
        413: "Body over the size limit",
        415: "Body is not JSON",
        422: "Invalid input (details lists the fields), or an unusable audio source",
        429: "Throttled: over the user's request or submission rate (RateLimited), too many requests of "
        "this user at once (ConcurrentRequests), or the stage's limit; retry after Retry-After seconds "
        "when it is sent",
        500: "Unexpected error; details carries a correlation id",
        503: "The workflow could not be started; retry",
    }
    responses: dict[int | str, dict[str, Any]] = {
        status: {"description": described[status], "content": {"application/json": {"model": ErrorResponse}}}
        for status in statuses
    }
    if 429 in responses:
        responses[429]["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    return responses


def no_content() -> Response:
    """A 204 without a body or a Content-Type. A route returning None would answer `null` as JSON,
    a body a 204 must not have: a client reads those four bytes as the start of its next response
    on the same connection. (A `Response` return annotation would be modelled as a body.)"""
    return Response(status_code=204)
