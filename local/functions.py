"""The stack's functions in this process, each with only its own environment, as Lambda runs them.

Every handler module has a `cold_start` (lambdas/common/runtime.py) that reads the function's
settings at its first invocation; `load` points it at the environment the CDK app would give that
function (lambdas/common/contract.function_environment), so a variable missing from a function on
AWS is missing here too. What every function shares (boto3's endpoints and the local identity,
Powertools' variables) is this process's environment.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Mapping
from typing import Any

from lambdas.common import contract
from local.cognito import CognitoSettings
from local.lambda_context import Handler
from local.paths import MEASURING_DIR, TRANSCRIBE_IMAGE_DIR
from local.resources import ResourceNames
from stacks.config import ServiceConfig

# The transcriber and the upload analyzer are a container image of their own: their package
# `transcriber` is imported from its folder, as the image's CMD names it, and the measuring module
# from the model container's folder, which the image's Dockerfile copies it from.
IMAGE_HANDLERS = contract.IMAGE_HANDLERS

# The local endpoint is one instance (the container renders one request at a time).
LOCAL_ENDPOINT_INSTANCES = 1
NO_SERVER = "http://127.0.0.1:9"  # the discard port: nothing answers there


def module_of(function: str) -> str:
    if function in IMAGE_HANDLERS:
        return IMAGE_HANDLERS[function].rpartition(".")[0]
    return f"lambdas.{function}.handler"


def handler_path(function: str) -> str:
    """As the CDK app names the function's handler."""
    return f"{module_of(function)}.lambda_handler"


def load(function: str, environment: Mapping[str, str] | None = None) -> Handler:
    """The function's handler, starting cold with `environment` (None: this process's).

    The image's functions are imported at their first invocation: basic-pitch, librosa and ONNX
    Runtime take seconds to import, which a stack that never uses them should not wait for."""
    if function in IMAGE_HANDLERS:
        return _LazyHandler(function, environment)
    module = importlib.import_module(module_of(function))
    module.cold_start.reset(environment)
    return module.lambda_handler


class _LazyHandler:
    def __init__(self, function: str, environment: Mapping[str, str] | None) -> None:
        self._function = function
        self._environment = environment
        self._handler: Handler | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            if self._handler is None:
                for folder in (TRANSCRIBE_IMAGE_DIR, MEASURING_DIR):
                    if str(folder) not in sys.path:
                        sys.path.append(str(folder))
                module = importlib.import_module(module_of(self._function))
                module.cold_start.reset(self._environment)
                self._handler = module.lambda_handler
        return self._handler(event, context)


def local_values(
    config: ServiceConfig,
    names: ResourceNames,
    *,
    state_machine_arn: str,
    api_origins: str,
    user_pool: CognitoSettings | None = None,
) -> dict[str, Any]:
    """The values of the functions' settings for a stack on this machine (`contract.deployment_values`
    with the local names), plus what only the local stack sets. Without `user_pool` (tests that do
    not run the authorizer) the authorizer trusts a pool named after the stack's, on no server."""
    pool = user_pool or CognitoSettings(NO_SERVER, names.user_pool, names.user_pool_client)
    resources = contract.Resources(
        jobs_table=names.jobs_table,
        users_table=names.users_table,
        idempotency_table=names.idempotency_table,
        uploads_table=names.uploads_table,
        personas_table=names.personas_table,
        media_bucket=names.media_bucket,
        inference_bucket=names.inference_bucket,
        uploads_bucket=names.uploads_bucket,
        state_machine_arn=state_machine_arn,
        endpoint_name=config.endpoint_name,
        event_bus=names.event_bus,
        api_origins=api_origins,
        api_keys_table=names.api_keys_table,
        rate_limits_table=names.rate_limits_table,
        user_pool_issuer=pool.issuer,
        user_pool_client_id=pool.client_id,
        upload_analyzer_function=names.function(contract.UPLOAD_ANALYZER),
    )
    return contract.deployment_values(config, resources) | {
        # moto serves the pool's keys on its own port; its tokens name the AWS issuer.
        "user_pool_jwks_url": pool.jwks_url,
        "endpoint_max_instances": LOCAL_ENDPOINT_INSTANCES,
        # Local development: webhooks may go to http://127.0.0.1 (never set by the CDK app).
        "webhook_allow_http_loopback": True,
    }


def environments(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each function's environment, by its package under lambdas/ (and the image's functions')."""
    environments = {name: contract.function_environment(name, values) for name in contract.FUNCTION_SETTINGS}
    environments[contract.TRANSCRIBER] = contract.transcriber_environment(values)
    environments[contract.UPLOAD_ANALYZER] = contract.upload_analyzer_environment(values)
    return environments


def every_variable(values: Mapping[str, Any]) -> dict[str, str]:
    """The union of every function's environment: for tests that run several handlers in one
    process environment (the in-process workflow, the unit tests)."""
    merged: dict[str, str] = {}
    for environment in environments(values).values():
        merged |= environment
    return merged
