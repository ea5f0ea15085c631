"""The template the tests assert on is the one `cdk deploy` deploys.

`make test` runs `npx cdk synth` (the CLI, with cdk.json's feature flags and settings) into
cdk.out before pytest; the session fixture synthesizes in-process with `stacks.config.cli_context`.
They must be byte-for-byte the same template: a difference means the tests check something other
than what is deployed (e.g. a feature flag the tests' App did not get).
"""

from __future__ import annotations

import json
import os

import pytest

from stacks.config import PROJECT_ROOT

from .conftest import STAGE

CLI_OUT = PROJECT_ROOT / "cdk.out"
TEMPLATE = f"SongService-{STAGE}.template.json"


def _cli_template() -> dict:
    path = CLI_OUT / TEMPLATE
    if not path.exists():
        # `make test` sets REQUIRE_CLI_SYNTH=1 so the gate cannot skip; a developer running
        # pytest alone gets a skip until `make synth` has run.
        if os.environ.get("REQUIRE_CLI_SYNTH") == "1":
            pytest.fail(f"{path} is missing: `make test` synthesizes it with `npx cdk synth` first")
        pytest.skip("no CLI synth in cdk.out (run `make synth`)")
    return json.loads(path.read_text())


def _diff(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def test_tests_template_is_the_cli_template(template_json: dict) -> None:
    differences = _diff(template_json, _cli_template())
    assert not differences, (
        f"in-process synth differs from `npx cdk synth` (stale cdk.out? `make synth`) at {differences[:10]}"
    )


def test_cli_template_has_the_feature_flags_applied(template_json: dict) -> None:
    # @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy (cdk.json): S3 writes access logs under a
    # bucket policy; without cdk.json's flags CDK would use the LogDeliveryWrite ACL instead.
    # Guards against both sides silently dropping the flags together.
    resources = template_json["Resources"].values()
    buckets = [r for r in resources if r["Type"] == "AWS::S3::Bucket"]
    assert buckets and not [b for b in buckets if "AccessControl" in b["Properties"]]
    assert "logging.s3.amazonaws.com" in json.dumps(
        [r for r in resources if r["Type"] == "AWS::S3::BucketPolicy"]
    )


def test_app_py_uses_the_cli_context() -> None:
    from app import new_app

    app = new_app()
    assert app.node.try_get_context("@aws-cdk/aws-lambda:useCdkManagedLogGroup") is True
    assert app.node.try_get_context("service")["stage_name"] == STAGE
