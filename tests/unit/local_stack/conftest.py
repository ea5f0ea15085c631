"""One moto server per module for the local stack's pieces (server mode, like the stack runs it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto.core.config import default_user_config

from local.emulator import MotoEmulator
from local.resources import ResourceNames
from stacks.config import ServiceConfig


@pytest.fixture(scope="module")
def emulator() -> Iterator[MotoEmulator]:
    saved_sfn = dict(default_user_config["stepfunctions"])
    saved_port = os.environ.get("MOTO_PORT")
    moto = MotoEmulator()
    moto.start()
    yield moto
    moto.stop()
    default_user_config["stepfunctions"] = saved_sfn
    if saved_port is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved_port


@pytest.fixture(scope="module")
def names(request: pytest.FixtureRequest) -> ResourceNames:
    # A stage per module: the moto backends are process-wide, names must not collide.
    stage = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:15].strip("-")
    return ResourceNames.for_config(ServiceConfig(stage_name=stage))
