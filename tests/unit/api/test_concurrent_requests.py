"""Concurrent requests through the local gateway get the statuses they would get one by one.

The Powertools resolver keeps the current event and response on the shared app object; called
from several threads at once, a 202 or 204 came back as another request's 200. The local gateway
runs the handler like one Lambda environment, one request at a time.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from lambdas.api import handler
from lambdas.common.models import JobStatus
from local.api_front import ApiGateway, GatewayRequest, service_routes
from tests.factories import put_job


def alice_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stands in for the authorizer: every credential is alice's."""
    allow = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [event["methodArn"]]}
    return {
        "principalId": "alice",
        "policyDocument": {"Version": "2012-10-17", "Statement": [allow]},
        "context": {"sub": "alice", "auth_method": "id_token"},
    }


def _request(method: str, path: str, body: dict | None = None) -> GatewayRequest:
    headers = {"authorization": ["token"], "content-type": ["application/json"]}
    return GatewayRequest(
        method, f"/v1{path}", headers, json.dumps(body).encode() if body else b"", "127.0.0.1"
    )


def test_mixed_concurrent_requests_keep_their_statuses(api, aws_env, song_body) -> None:
    gateway = ApiGateway(alice_authorizer, handler.lambda_handler, service_routes())
    api.call("GET", "/me")  # create alice once, so the first calls do not race the sign-up
    boto3.client("dynamodb").update_item(  # credits for every song below, whatever its price
        TableName=aws_env.users_table,
        Key={"user_id": {"S": "alice"}},
        UpdateExpression="SET credits = :c",
        ExpressionAttributeValues={":c": {"N": "100000"}},
    )
    finished = [put_job("alice", JobStatus.PROCESSED) for _ in range(6)]
    calls = [
        *[(_request("POST", "/songs", song_body), 202) for _ in range(6)],
        *[(_request("DELETE", f"/songs/{job.job_id}"), 204) for job in finished],
        *[(_request("GET", "/me"), 200) for _ in range(6)],
        *[(_request("GET", "/songs/00000000-0000-4000-8000-000000000000"), 404) for _ in range(6)],
    ]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda call: gateway.handle(call[0]).status, calls))
    assert statuses == [expected for _, expected in calls]
