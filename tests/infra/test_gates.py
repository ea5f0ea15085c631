"""The quality gates themselves: cdk-nag blocks synthesis on an unacknowledged finding."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.nag import acknowledge, add_checks


def _synth_bucket_app(tmp_path, acknowledged: bool) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    bucket = s3.Bucket(stack, "Unlogged", enforce_ssl=True)
    if acknowledged:
        acknowledge(bucket, "AwsSolutions-S1", "probe bucket for the gate test")
    add_checks(app)
    app.synth()


def test_unacknowledged_nag_finding_fails_synth(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        _synth_bucket_app(tmp_path, acknowledged=False)


def test_acknowledged_finding_passes(tmp_path) -> None:
    _synth_bucket_app(tmp_path, acknowledged=True)


def test_acknowledgement_needs_a_reason() -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match="reason"):
        acknowledge(cdk.Stack(app, "S"), "AwsSolutions-S1", "  ")


def test_whole_app_synthesizes_clean(cloud_assembly) -> None:
    # The session fixture synthesized the real app with AwsSolutionsChecks: reaching here means
    # every finding was fixed or acknowledged with a reason.
    assert (cloud_assembly / "manifest.json").exists()
