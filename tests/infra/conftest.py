"""Synthesize the whole app once (cdk-nag runs as a validation plugin during synth)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app

STAGE = "test"


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir), context={"stage_name": STAGE})
    build_app(app).synth()
    return outdir


@pytest.fixture(scope="session")
def template_json(cloud_assembly: Path) -> dict:
    return json.loads((cloud_assembly / f"SongService-{STAGE}.template.json").read_text())


@pytest.fixture(scope="session")
def template(template_json: dict) -> Template:
    return Template.from_json(template_json)
