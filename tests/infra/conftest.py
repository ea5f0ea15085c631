"""Synthesize the app the way `cdk deploy` does (cdk-nag runs as a validation plugin during synth).

Every App here starts from `stacks.config.cli_context()`: the context the CDK CLI hands the app
(cdk.json's feature flags and `service` settings, cdk.context.json, the CLI's own defaults), so
the tests assert on the template `cdk deploy` deploys. `test_cli_parity.py` checks that claim
against the CLI's own output in cdk.out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from app import build_app, new_app
from stacks.config import cli_context, load_config

# The settings cdk.json deploys (the session template is that stage, exactly as the CLI builds it).
CONFIG = load_config(cli_context()["service"])
STAGE = CONFIG.stage_name
# What `make synth` passes too: these templates are never deployed, and cdk.json stages no weights
# (a deploy without them stops at synthesis: test_model_network.py).
UNDEPLOYED = {"allow_no_model_data": True}


def synth(outdir: Path, **overrides: Any) -> dict:
    """The stack's template for cdk.json's context plus `-c key=value`-style overrides."""
    build_app(new_app(str(outdir), **{**UNDEPLOYED, **overrides})).synth()
    stage = overrides.get("stage_name", STAGE)
    return json.loads((outdir / f"SongService-{stage}.template.json").read_text())


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    build_app(new_app(str(outdir), **UNDEPLOYED)).synth()
    return outdir


@pytest.fixture(scope="session")
def staged_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A stage whose weights are staged in another bucket (the production path)."""
    return synth(
        tmp_path_factory.mktemp("staged"),
        stage_name="weights",
        model_data_s3_uri="s3://model-bucket/song-model/v1",
    )


@pytest.fixture(scope="session")
def template_json(cloud_assembly: Path) -> dict:
    return json.loads((cloud_assembly / f"SongService-{STAGE}.template.json").read_text())


@pytest.fixture(scope="session")
def template(template_json: dict) -> Template:
    return Template.from_json(template_json)
