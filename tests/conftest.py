"""Test-wide settings: never reach a real AWS account."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest_plugins = ["tests.permissions"]

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "HF_HUB_OFFLINE": "1",
        "POWERTOOLS_SERVICE_NAME": "song-service",
        "POWERTOOLS_METRICS_NAMESPACE": "SongService",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)


TEST_RATE_LIMITS = {"user_request_burst": 10_000, "user_submission_burst": 1_000}
# The same for a local stack (`python -m local up -c key=value`).
STACK_RATE_LIMIT_ARGS = [arg for key, value in TEST_RATE_LIMITS.items() for arg in ("-c", f"{key}={value}")]


def _test_config() -> Any:
    from stacks.config import ServiceConfig

    # Per-user rate limits out of the way of suites that send many requests as one user; their
    # own tests set them low (tests/unit/api/test_rate_limits.py).
    return ServiceConfig(stage_name="test", **TEST_RATE_LIMITS)


TEST_CONFIG = _test_config()
# The API's state machine until a test creates one (tests/unit/api/conftest.py sets its ARN).
TEST_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:song-generation-test"


@contextmanager
def moto_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process with the service's tables, buckets and event bus; every function's variables
    set in the process environment (the handlers share it here); yields the names."""
    import boto3
    from moto import mock_aws

    from lambdas.common import aws, runtime
    from local.functions import every_variable, local_values
    from local.resources import ResourceNames, create_data_and_storage, create_lifecycle_events

    names = ResourceNames.for_config(TEST_CONFIG)
    values = local_values(TEST_CONFIG, names, state_machine_arn=TEST_STATE_MACHINE_ARN, api_origins="*")
    values["webhook_allow_http_loopback"] = False  # as deployed; tests of local receivers turn it on
    for key, value in every_variable(values).items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        aws.reset()
        runtime.reset_all()
        create_data_and_storage(boto3.client("dynamodb"), boto3.client("s3"), names)
        create_lifecycle_events(boto3.client("events"), boto3.client("sqs"), names)
        yield names
        aws.reset()
        runtime.reset_all()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch):
    """moto in-process with the service's tables and buckets; yields their names."""
    with moto_environment(monkeypatch) as names:
        yield names


@pytest.fixture
def s3(s3_bucket: str) -> Iterator[Any]:
    """moto S3 with one bucket, for the images' tests (tests/container, tests/transcribe: each
    names its bucket with an `s3_bucket` fixture)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=s3_bucket)
        yield client
