"""`python -m ops smoke`'s AWS side (Cognito sign-in with moto, the endpoint's state with botocore's
Stubber) and its waiting: progress lines during a long generation and the report when it times out.
The whole run against the local stack: tests/e2e/test_smoke.py."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from local.client import SongClient
from ops.__main__ import stack_outputs
from ops.smoke import SmokeTest, StageFailed, Target, aws_target

REGION = "us-east-1"


@pytest.fixture
def deployed() -> Iterator[tuple[Any, dict[str, str]]]:
    """A session and the outputs of a stack whose pool is like the deployed one (e-mail usernames)."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        cognito = session.client("cognito-idp")
        pool = cognito.create_user_pool(PoolName="users", UsernameAttributes=["email"])["UserPool"]["Id"]
        client = cognito.create_user_pool_client(
            UserPoolId=pool,
            ClientName="web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        outputs = {
            "ApiUrl": "https://api.example.com/v1/",
            "UserPoolId": pool,
            "UserPoolClientId": client,
            "EndpointName": "song-service-dev-music-g6e-2xlarge",
            "DashboardName": "song-service-dev",
        }
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        session.client("cloudformation").create_stack(
            StackName="SongService-dev", TemplateBody=json.dumps(template)
        )
        yield session, outputs


def test_the_test_user_is_created_and_signed_in_with_a_fresh_password(deployed) -> None:
    session, outputs = deployed
    assert stack_outputs(session, "dev") == outputs
    target = aws_target(session, "dev", outputs, "smoke@example.com", None, create_user=True)
    first, second = target.sign_in(), target.sign_in()  # a second run finds the user, sets a new password
    claims = jwt.decode(first, options={"verify_signature": False})
    assert claims["email"] == "smoke@example.com"
    assert claims["token_use"] == "id"
    assert second != first
    assert target.grant_command == "python -m ops --stage dev grant"
    without_password = aws_target(session, "dev", outputs, "smoke@example.com", None, create_user=False)
    with pytest.raises(StageFailed, match="SMOKE_PASSWORD"):
        without_password.sign_in()


class WithClient:
    """A session that hands out one given client (stubbed) and its own for the rest."""

    def __init__(self, session: Any, client: Any) -> None:
        self.session = session
        self.given = client

    def client(self, service: str, **kwargs: Any) -> Any:
        return (
            self.given
            if service == self.given.meta.service_model.service_name
            else self.session.client(service)
        )


def test_the_endpoints_state_is_read_for_progress_lines(deployed) -> None:
    session, outputs = deployed
    client = session.client("sagemaker")
    target = aws_target(
        WithClient(session, client), "dev", outputs, "smoke@example.com", "pw", create_user=False
    )
    assert target.endpoint_state is not None
    with Stubber(client) as stub:
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": outputs["EndpointName"],
                "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
                "EndpointConfigName": "c",
                "EndpointStatus": "InService",
                "CreationTime": "2026-01-01T00:00:00Z",
                "LastModifiedTime": "2026-01-01T00:00:00Z",
                "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 0}],
            },
            {"EndpointName": outputs["EndpointName"]},
        )
        assert target.endpoint_state() == "InService, 0 instance(s) in service"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_long_generation_prints_progress_and_a_timeout_names_the_stage(monkeypatch) -> None:
    clock = FakeClock()
    song = {"job_id": "j1", "status": "processing", "stage": "generating", "price_credits": 1, "error": None}
    me = {"user_id": "u1", "credits": 5, "reserved_credits": 0, "available_credits": 5}
    monkeypatch.setattr(SongClient, "me", lambda self: me)
    monkeypatch.setattr(
        SongClient, "create_song", lambda self, body, idempotency_key=None: {**song, "status": "queued"}
    )
    monkeypatch.setattr(SongClient, "song", lambda self, song_id: song)
    out = io.StringIO()
    target = Target(
        name="SongService-dev",
        api_url="https://api.example.com/v1/",
        user="smoke@example.com",
        sign_in=lambda: "token",
        endpoint_state=lambda: "InService, 0 instance(s) in service",
        where_to_look="the dashboard song-service-dev",
    )
    smoke = SmokeTest(
        target, out=out, timeout_s=600, poll_s=10, progress_s=120, clock=clock, sleep=clock.sleep
    )
    assert smoke.run() is False
    lines = out.getvalue().splitlines()
    progress = [line for line in lines if line.startswith("  ...")]
    assert progress[0] == "  ...   generate: 2:00 so far; endpoint InService, 0 instance(s) in service"
    assert len(progress) == 4  # every 2 minutes until the 10-minute timeout
    assert 'smoke test FAILED at "generate": still processing (generating) after 10:00' in lines
    assert "  look at: the dashboard song-service-dev" in lines
    assert [s.name for s in smoke.stages] == ["sign in", "credits", "submit", "queue", "generate"]
    assert smoke.stages[-1].ok is False
