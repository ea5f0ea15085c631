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


@contextmanager
def moto_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process with the service's tables and buckets; yields their names."""
    import boto3
    from moto import mock_aws

    from lambdas.common import aws, settings
    from local.resources import ResourceNames, create_data_and_storage
    from stacks.config import ServiceConfig

    names = ResourceNames.for_config(ServiceConfig(stage_name="test"))
    for key, value in names.environment().items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        aws.reset()
        settings.get_settings.cache_clear()
        create_data_and_storage(boto3.client("dynamodb"), boto3.client("s3"), names)
        yield names
        aws.reset()
        settings.get_settings.cache_clear()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch):
    """moto in-process with the service's tables and buckets; yields their names."""
    with moto_environment(monkeypatch) as names:
        yield names
