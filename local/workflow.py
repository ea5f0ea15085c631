"""The generation workflow on moto: the state machine from the real ASL and its in-process tasks.

Used by tests/workflow, bench/workflow_bench.py and the local stack:

    names = ResourceNames.for_config(ServiceConfig())
    values = substitutions(names, inference_timeout_s=2700)
    arn = create_state_machine(boto3.client("stepfunctions"), names, values)
    with route_lambda_invokes(task_handlers(names)):
        ...  # executions run the real handlers

moto must execute state machines: `mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`
in-process, or the same setting on a moto server (then MOTO_PORT must be the server's port).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdas.common import contract
from local.account import ACCOUNT, function_arn
from local.functions import load
from local.lambda_context import Handler
from local.resources import ResourceNames

ASL_PATH = Path(__file__).resolve().parent.parent / "statemachines" / "song_generation.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(definition: str) -> set[str]:
    """The ${Names} a definition expects from DefinitionSubstitutions."""
    return set(_PLACEHOLDER.findall(definition))


def render(definition: str, substitutions: dict[str, Any]) -> str:
    """What CloudFormation does with DefinitionSubstitutions: replace every ${Name}."""
    missing = placeholders(definition) - set(substitutions)
    if missing:
        raise KeyError(f"no substitution for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(substitutions[m.group(1)]), definition)


def substitutions(
    names: ResourceNames,
    *,
    inference_timeout_s: int,
    slot_poll_s: int = contract.SLOT_POLL_S,
) -> dict[str, Any]:
    return {
        "AcquireSlotFunctionArn": function_arn(names.function("acquire_slot")),
        "StartInferenceFunctionArn": function_arn(names.function("start_inference")),
        "PublishFunctionArn": function_arn(names.function("publish_song")),
        "FinalizeFunctionArn": function_arn(names.function("finalize_job")),
        "TranscriberFunctionArn": function_arn(names.function(contract.TRANSCRIBER)),
        "InferenceBucketName": names.inference_bucket,
        "ScratchMediaPrefix": contract.SCRATCH_MEDIA_PREFIX,
        "JobsTableName": names.jobs_table,
        "UsersTableName": names.users_table,
        "InferenceTimeoutSeconds": inference_timeout_s,
        "SlotPollSeconds": slot_poll_s,
    }


def create_state_machine(sfn: Any, names: ResourceNames, values: dict[str, Any]) -> str:
    definition = render(ASL_PATH.read_text(), values)
    json.loads(definition)  # fail here, not inside moto, if a substitution broke the JSON
    response = sfn.create_state_machine(
        name=names.state_machine,
        definition=definition,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{names.state_machine}",
        type="STANDARD",
    )
    return response["stateMachineArn"]


# The functions the state machine invokes, by their package under lambdas/.
TASK_FUNCTIONS = ("acquire_slot", "start_inference", "publish_song", "finalize_job", contract.TRANSCRIBER)


def task_handlers(
    names: ResourceNames, environments: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, Handler]:
    """The functions the state machine invokes, by their function name (for local.lambda_routing),
    each with its own environment (None: this process's)."""
    return {
        names.function(function): load(function, environments[function] if environments else None)
        for function in TASK_FUNCTIONS
    }
