"""The generation workflow on moto: the state machine from the real ASL and its in-process tasks.

Used by tests/workflow, bench/workflow_bench.py and the local stack:

    names = WorkflowNames.for_prefix("song-service-dev")
    arn = create_state_machine(boto3.client("stepfunctions"), names, resource_names)
    with route_lambda_invokes(task_handlers(names)):
        ...  # executions run the real handlers

moto must execute state machines: `mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`
in-process, or the same setting on a moto server (then MOTO_PORT must be the server's port).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.account import ACCOUNT, function_arn
from local.lambda_context import Handler
from local.resources import ResourceNames

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
    endpoint: str

    @classmethod
    def for_prefix(cls, prefix: str) -> WorkflowNames:
        return cls(
            state_machine=f"{prefix}-song-generation",
            acquire_slot=f"{prefix}-acquire-slot",
            start_inference=f"{prefix}-start-inference",
            publish=f"{prefix}-publish-song",
            finalize=f"{prefix}-finalize-job",
            inference_callback=f"{prefix}-inference-callback",
            reaper=f"{prefix}-reaper",
            endpoint=f"{prefix}-music",
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
    inference_timeout_s: int = 2700,
    slot_poll_s: int = 300,
) -> dict[str, Any]:
    return {
        "AcquireSlotFunctionArn": function_arn(names.acquire_slot),
        "StartInferenceFunctionArn": function_arn(names.start_inference),
        "PublishFunctionArn": function_arn(names.publish),
        "FinalizeFunctionArn": function_arn(names.finalize),
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


def task_handlers(names: WorkflowNames) -> dict[str, Handler]:
    """The functions the state machine invokes, by name (for local.lambda_routing)."""
    from lambdas.acquire_slot import handler as acquire_slot
    from lambdas.finalize_job import handler as finalize_job
    from lambdas.publish_song import handler as publish_song
    from lambdas.start_inference import handler as start_inference

    return {
        names.acquire_slot: acquire_slot.lambda_handler,
        names.start_inference: start_inference.lambda_handler,
        names.publish: publish_song.lambda_handler,
        names.finalize: finalize_job.lambda_handler,
    }


def function_environment(names: WorkflowNames, resources: ResourceNames) -> dict[str, str]:
    """The environment the workflow's functions get on AWS (see stacks/workflow.py), for moto."""
    return {
        **resources.environment(),
        "ENDPOINT_NAME": names.endpoint,
    }
