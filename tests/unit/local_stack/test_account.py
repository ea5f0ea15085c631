"""The local stack's identity: its clients read nothing of the user's AWS configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from botocore.config import Config

from local import account


@pytest.fixture
def someone_elses_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    """A developer's shell: a real-looking key, another region, a profile this machine lacks, a
    config file that would make S3 URLs virtual-hosted, an endpoint for S3 elsewhere."""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-1\ns3 =\n    addressing_style = virtual\n")
    for name, value in {
        "AWS_CONFIG_FILE": str(config),
        "AWS_PROFILE": "not-on-this-machine",
        "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
        "AWS_SECRET_ACCESS_KEY": "real-secret",
        "AWS_SESSION_TOKEN": "real-token",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_S3": "https://elsewhere.example",
    }.items():
        monkeypatch.setenv(name, value)
    account.session.cache_clear()
    yield
    account.session.cache_clear()


def test_a_local_client_signs_as_the_local_stack_whatever_the_shell_says(someone_elses_aws_setup) -> None:
    s3 = account.client("s3", "http://127.0.0.1:9", config=Config(signature_version="s3v4"))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": "a.wav"})
    assert url.startswith("http://127.0.0.1:9/media/a.wav?")  # path style, this endpoint
    assert "X-Amz-Credential=local%2F" in url and "%2Fus-east-1%2Fs3%2F" in url
    assert "X-Amz-Security-Token" not in url


def test_a_local_client_works_with_no_aws_configuration(monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", "/nonexistent")
    account.session.cache_clear()
    try:
        assert account.client("dynamodb", "http://127.0.0.1:9").meta.region_name == account.REGION
    finally:
        account.session.cache_clear()


def test_processes_the_stack_runs_get_only_the_local_identity() -> None:
    environ = {
        "AWS_PROFILE": "work",
        "AWS_SESSION_TOKEN": "real-token",
        "AWS_ENDPOINT_URL_S3": "https://elsewhere.example",
        "PATH": "/usr/bin",
    }
    account.use_local_identity(environ, AWS_ENDPOINT_URL="http://127.0.0.1:5000")
    assert environ == {
        "PATH": "/usr/bin",
        **account.environment(),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    }
