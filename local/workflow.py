"""The generation workflow on moto: the state machine from the real ASL and its in-process tasks.

Used by tests/workflow, bench/workflow_bench.py and the local stack:

    names = WorkflowNames.for_config(ServiceConfig())
    arn = create_state_machine(boto3.client("stepfunctions"), names, resource_names)
    with route_lambda_invokes(task_handlers(names)):
        ...  # executions run the real handlers

moto must execute state machines: `mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`
in-process, or the same setting on a moto server (then MOTO_PORT must be the server's port).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.common import contract
from local.account import ACCOUNT, function_arn
from local.functions import function_name, load
from local.lambda_context import Handler
from local.resources import ResourceNames
from stacks.config import ServiceConfig

ASL_PATH = Path(__file__).resolve().parent.parent / "statemachines" / "song_generation.asl.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class WorkflowNames:
    state_machine: str
    acquire_slot: str
    start_inference: str
    publish: str
    finalize: str
    inference_callback: str
    reaper: str
    transcriber: str
    endpoint: str

    @classmethod
    def for_config(cls, config: ServiceConfig) -> WorkflowNames:
        prefix = config.resource_prefix
        return cls(
            state_machine=contract.state_machine_name(prefix),
            acquire_slot=function_name(prefix, "acquire_slot"),
            start_inference=function_name(prefix, "start_inference"),
            publish=function_name(prefix, "publish_song"),
            finalize=function_name(prefix, "finalize_job"),
            inference_callback=function_name(prefix, "inference_callback"),
            reaper=function_name(prefix, "reaper"),
            transcriber=function_name(prefix, contract.TRANSCRIBER),
            endpoint=config.endpoint_name,
        )


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
    names: WorkflowNames,
    resources: ResourceNames,
    *,
    inference_timeout_s: int,
    slot_poll_s: int = contract.SLOT_POLL_S,
) -> dict[str, Any]:
    return {
        "AcquireSlotFunctionArn": function_arn(names.acquire_slot),
        "StartInferenceFunctionArn": function_arn(names.start_inference),
        "PublishFunctionArn": function_arn(names.publish),
        "FinalizeFunctionArn": function_arn(names.finalize),
        "TranscriberFunctionArn": function_arn(names.transcriber),
        "InferenceBucketName": resources.inference_bucket,
        "ScratchMediaPrefix": contract.SCRATCH_MEDIA_PREFIX,
        "JobsTableName": resources.jobs_table,
        "UsersTableName": resources.users_table,
        "InferenceTimeoutSeconds": inference_timeout_s,
        "SlotPollSeconds": slot_poll_s,
    }


def create_state_machine(sfn: Any, names: WorkflowNames, values: dict[str, Any]) -> str:
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
    names: WorkflowNames, environments: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, Handler]:
    """The functions the state machine invokes, by their function name (for local.lambda_routing),
    each with its own environment (None: this process's)."""
    function_names = {
        "acquire_slot": names.acquire_slot,
        "start_inference": names.start_inference,
        "publish_song": names.publish,
        "finalize_job": names.finalize,
        contract.TRANSCRIBER: names.transcriber,
    }
    return {
        function_names[function]: load(function, environments[function] if environments else None)
        for function in TASK_FUNCTIONS
    }
