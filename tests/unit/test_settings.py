"""Each function's settings: read from its own environment at its first invocation, validated, and
built for the stack and the local stack by one builder (lambdas/common/contract.py)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from lambdas.common import contract
from lambdas.common.clock import utc_timestamp
from lambdas.common.settings import (
    FUNCTION_SETTINGS,
    AcquireSlotSettings,
    SettingsError,
    StartInferenceSettings,
    UploadCheckSettings,
)
from lambdas.workflow.dependencies import user_queue
from local.functions import environments, local_values
from local.lambda_context import LambdaContext
from local.resources import ResourceNames
from stacks.config import ServiceConfig

CONFIG = ServiceConfig(stage_name="test", inference_timeout_minutes=10)
VALUES = local_values(CONFIG, ResourceNames.for_config(CONFIG), state_machine_arn="arn:sm", api_origins="*")


def test_workflow_timeouts_come_from_the_environment() -> None:
    env = environments(VALUES)
    assert StartInferenceSettings.from_environment(env["start_inference"]).inference_timeout_seconds == 600
    assert AcquireSlotSettings.from_environment(env["acquire_slot"]).workflow_timeout_seconds == 86400


def test_queue_horizon_is_the_execution_timeout_ago() -> None:
    settings = AcquireSlotSettings.from_environment(
        environments(VALUES)["acquire_slot"] | {"WORKFLOW_TIMEOUT_SECONDS": "3600"}
    )
    before = utc_timestamp(datetime.now(UTC) - timedelta(hours=1))
    horizon = user_queue(settings).horizon()
    after = utc_timestamp(datetime.now(UTC) - timedelta(hours=1))
    assert before <= horizon <= after and horizon.endswith("Z")


def test_a_missing_variable_is_named_before_any_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A function whose environment lacks a variable fails its first invocation with a message
    naming the variable, not later at its first AWS call."""
    from lambdas.acquire_slot import handler
    from lambdas.common import aws

    def no_aws(*args: object) -> None:
        raise AssertionError("an AWS client was made before the settings were checked")

    monkeypatch.setattr(aws, "client", no_aws)
    monkeypatch.setattr(aws, "table", no_aws)
    environment = dict(environments(VALUES)["acquire_slot"])
    del environment["JOBS_TABLE_NAME"]
    environment["MAX_CONCURRENT_JOBS_PER_USER"] = "none"
    handler.cold_start.reset(environment)
    try:
        with pytest.raises(SettingsError) as failed:
            handler.lambda_handler(
                {"job_id": "j", "user_id": "u", "task_token": "t"}, LambdaContext("acquire-slot")
            )
    finally:
        handler.cold_start.reset()
    assert "JOBS_TABLE_NAME is not set" in str(failed.value)
    assert "MAX_CONCURRENT_JOBS_PER_USER is not valid" in str(failed.value)


def test_each_function_gets_only_the_variables_it_reads() -> None:
    env = environments(VALUES)
    assert set(env) == set(FUNCTION_SETTINGS) | {contract.TRANSCRIBER, contract.UPLOAD_ANALYZER}
    # The image's functions' settings live in the image (tests/infra/test_transcription.py).
    transcriber = env.pop(contract.TRANSCRIBER)
    assert {"MEDIA_BUCKET_NAME", "INFERENCE_BUCKET_NAME", "MAX_DURATION_S"} <= set(transcriber)
    assert set(env.pop(contract.UPLOAD_ANALYZER)) == {"UPLOADS_BUCKET_NAME", "MAX_DURATION_S"}
    for function, environment in env.items():
        settings = FUNCTION_SETTINGS[function].from_environment(environment)  # complete
        own = set(FUNCTION_SETTINGS[function].variables().values())
        assert set(environment) - own == set(contract.runtime_environment()), function
        assert settings.stage_name == "test"
    # e.g. the upload check knows nothing of jobs and users, the callback nothing of users.
    assert (
        "JOBS_TABLE_NAME" not in env["upload_check"] and "USERS_TABLE_NAME" not in env["inference_callback"]
    )
    assert UploadCheckSettings.from_environment(env["upload_check"]).upload_max_duration_seconds == 600


def test_a_value_a_function_needs_is_required_of_the_deployment() -> None:
    values = dict(VALUES)
    del values["endpoint_name"]
    with pytest.raises(KeyError, match="ENDPOINT_NAME"):
        contract.function_environment("start_inference", values)


def test_every_function_reads_its_settings_at_its_cold_start() -> None:
    """Each handler module (lambdas/<function>/handler.py, the path the stack names) validates the
    contract's settings model of its function."""
    for function, model in FUNCTION_SETTINGS.items():
        module = importlib.import_module(f"lambdas.{function}.handler")
        assert module.cold_start.settings_model is model, function


def test_the_eta_divides_by_instances_not_by_invocations_per_instance() -> None:
    """The container renders one request at a time: more invocations per instance queue on it."""
    config = ServiceConfig(endpoint_max_instances=2, max_concurrent_invocations_per_instance=3)
    names = ResourceNames.for_config(config)
    resources = contract.Resources(**{f: "x" for f in contract.Resources.__dataclass_fields__})
    assert contract.deployment_values(config, resources)["endpoint_max_instances"] == 2
    assert local_values(config, names, state_machine_arn="a", api_origins="*")["endpoint_max_instances"] == 1
