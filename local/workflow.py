"""The workflow on moto: the ASL file CDK deploys, with local substitutions, its Lambda tasks routed
to the real handlers in this process (local/lambda_routing.py, shared with the workflow tests)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from local.api_front import load_handler
from local.emulator import MotoEmulator
from local.lambda_context import ACCOUNT
from local.paths import REPO_ROOT
from local.resources import ResourceNames
from stacks.config import ServiceConfig

ASL_PATH = REPO_ROOT / "statemachines" / "song_generation.asl.json"
# The local turn-taking poll: short, so queued jobs start soon after a slot frees up.
LOCAL_SLOT_POLL_S = 1

# ASL placeholder -> (function name suffix, handler): the workflow's Lambda tasks.
FUNCTIONS = {
    "AcquireSlotFunctionArn": ("acquire-slot", "lambdas.acquire_slot.handler.lambda_handler"),
    "StartInferenceFunctionArn": ("start-inference", "lambdas.start_inference.handler.lambda_handler"),
    "PublishFunctionArn": ("publish-song", "lambdas.publish_song.handler.lambda_handler"),
    "FinalizeFunctionArn": ("finalize-job", "lambdas.finalize_job.handler.lambda_handler"),
}


class SubstitutionError(ValueError):
    """The ASL names a placeholder the local stack does not fill (the ASL and this file drifted)."""


def function_name(config: ServiceConfig, suffix: str) -> str:
    return f"{config.resource_prefix}-{suffix}"


def function_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def substitutions(config: ServiceConfig, names: ResourceNames) -> dict[str, str]:
    """The DefinitionSubstitutions CDK passes, with this machine's names and ARNs."""
    values = {key: function_arn(function_name(config, suffix)) for key, (suffix, _) in FUNCTIONS.items()}
    values.update(
        {
            "JobsTableName": names.jobs_table,
            "UsersTableName": names.users_table,
            "CreditsPerSong": str(config.credits_per_song),
            "InferenceTimeoutSeconds": str(config.inference_timeout_minutes * 60),
            "SlotPollSeconds": str(LOCAL_SLOT_POLL_S),
        }
    )
    return values


def render(template: str, values: dict[str, str]) -> str:
    """Replace every ${Name}, as CloudFormation does; an unknown name is an error, not a blank."""
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", template)) - set(values))
    if missing:
        raise SubstitutionError(f"no local value for ASL placeholders: {', '.join(missing)}")
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def handlers(config: ServiceConfig) -> dict[str, Callable[[Any, Any], Any]]:
    return {function_name(config, suffix): load_handler(path) for suffix, path in FUNCTIONS.values()}


def route_workflow_functions(config: ServiceConfig) -> AbstractContextManager[Any]:
    from local.lambda_routing import route_lambda_invokes

    return route_lambda_invokes(handlers(config))


def create_state_machine(moto: MotoEmulator, config: ServiceConfig, names: ResourceNames) -> str:
    definition = render(ASL_PATH.read_text(), substitutions(config, names))
    json.loads(definition)  # fail here, not at the first execution, if a substitution broke the JSON
    role = f"arn:aws:iam::{ACCOUNT}:role/{config.resource_prefix}-workflow"
    created = moto.client("stepfunctions").create_state_machine(
        name=names.state_machine, definition=definition, roleArn=role, type="STANDARD"
    )
    return str(created["stateMachineArn"])
