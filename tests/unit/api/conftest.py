"""Drive the API Lambda with API Gateway (REST) proxy events against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from lambdas.common.contract import AUTH_BY_ID_TOKEN
from local.api_front import api_event, authorizer_answer

PASS_STATE_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class FakeContext:
    aws_request_id: str = "req-0000-1111"
    function_name: str = "song-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:song-api"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


@dataclass
class ApiResult:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error_code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("code") if isinstance(error, dict) else None


def proxy_event(
    method: str,
    path: str,
    *,
    user: str | None = "alice",
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64: bool = False,
    auth_method: str = AUTH_BY_ID_TOKEN,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the authorizer passes an allowed caller on
    (local/api_front.py builds it, as the local stack's front does)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if raw_body is None and body is not None:
        raw_body = json.dumps(body)
    authorizer = authorizer_answer(user, auth_method) if user else None
    return api_event(
        method,
        path,
        authorizer=authorizer,
        body=raw_body,
        headers=all_headers,
        query=query,
        base64_body=base64,
    )


class ApiClient:
    def __init__(self) -> None:
        from lambdas.api import handler

        self._handler = handler.lambda_handler

    def call(self, method: str, path: str, **kwargs: Any) -> ApiResult:
        response = self._handler(proxy_event(method, path, **kwargs), FakeContext())
        raw = response.get("body")
        body = json.loads(raw) if raw else None
        # Powertools answers REST events with multiValueHeaders; flatten both forms.
        headers = dict(response.get("headers") or {})
        headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()})
        return ApiResult(response["statusCode"], body, headers)

    def post_song(self, body: dict[str, Any], **kwargs: Any) -> ApiResult:
        return self.call("POST", "/songs", body=body, **kwargs)


def _create_state_machine(monkeypatch: pytest.MonkeyPatch) -> str:
    from lambdas.common import runtime

    arn = boto3.client("stepfunctions").create_state_machine(
        name="song-generation-test",
        definition=PASS_STATE_MACHINE,
        roleArn="arn:aws:iam::123456789012:role/song-generation",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("STAGE_NAME", "test")
    runtime.reset_all()
    return arn


@pytest.fixture
def state_machine_arn(aws_env, monkeypatch: pytest.MonkeyPatch) -> str:
    return _create_state_machine(monkeypatch)


@dataclass
class SharedApi:
    """One moto backend for a whole module of tests that write nothing (or check their own writes)."""

    client: ApiClient
    names: Any
    state_machine_arn: str

    def writes(self) -> tuple[int, int]:
        """(job rows, executions): compare before and after a request that must write nothing."""
        jobs = boto3.client("dynamodb").scan(TableName=self.names.jobs_table, Select="COUNT")["Count"]
        runs = boto3.client("stepfunctions").list_executions(stateMachineArn=self.state_machine_arn)
        return jobs, len(runs["executions"])


@pytest.fixture(scope="module")
def shared_api() -> Iterator[SharedApi]:
    from tests.conftest import moto_environment

    with pytest.MonkeyPatch.context() as monkeypatch, moto_environment(monkeypatch) as names:
        yield SharedApi(ApiClient(), names, _create_state_machine(monkeypatch))


@pytest.fixture
def api(state_machine_arn) -> ApiClient:
    return ApiClient()


@pytest.fixture
def song_body() -> dict[str, Any]:
    return {"mode": "description", "description": "an upbeat synthwave song about night drives"}
