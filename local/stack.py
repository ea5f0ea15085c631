"""The local stack: every AWS piece of the service on this machine, wired like the deployed stack.

Start order (stop is the reverse): moto (DynamoDB, S3, SNS, SQS, Step Functions, Cognito) ->
resources named from the CDK config -> the async endpoint front -> the workflow (the real ASL with
local substitutions; its Lambda tasks routed to the in-process handlers) -> the container ->
the callback's SQS poller -> the API front. `.local/stack.json` is written last, once all is ready.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.common import contract
from local import account
from local.account import REGION
from local.api_front import ApiGateway, ApiServer, service_routes
from local.async_endpoint import AsyncEndpoint, AsyncEndpointServer, ContainerModel, EndpointConfig
from local.cognito import CognitoSettings
from local.container import ContainerProcess, serve_command, serve_environment
from local.dynamodb_patches import atomic_transactions
from local.emulator import MotoEmulator, free_port
from local.execution_events import ExecutionStatusWatcher
from local.functions import environments, load, local_values
from local.lambda_routing import route_lambda_invokes
from local.paths import DEFAULT_STATE_DIR, REPO_ROOT
from local.resources import (
    Messaging,
    ResourceNames,
    UserPool,
    create_data_and_storage,
    create_lifecycle_events,
    create_messaging,
    create_upload_check,
    create_user_pool,
)
from local.sfn_patches import stop_interrupts_waiting_tasks
from local.sqs_poller import SqsPoller
from local.web import WebServer, WebSettings
from local.workflow import create_state_machine, substitutions, task_handlers
from stacks.config import ServiceConfig, load_config

log = logging.getLogger(__name__)


def config_from_cdk_json(
    path: Path = REPO_ROOT / "cdk.json", overrides: dict[str, Any] | None = None
) -> ServiceConfig:
    """The same settings `cdk synth` uses (cdk.json `context.service`, then `-c key=value` overrides)."""
    context = json.loads(path.read_text())["context"]
    return load_config(context.get("service"), overrides)


@dataclass
class StackOptions:
    state_dir: Path = DEFAULT_STATE_DIR
    host: str = "127.0.0.1"
    api_port: int = 0
    moto_port: int = 0
    endpoint_port: int = 0
    container_port: int = 0
    web_port: int = 0
    model_dir: Path | None = None  # real weights (full profile); None = tiny random-weight models
    container_ready_timeout_s: float = 600.0
    corrupt_marker: str | None = None  # async endpoint fault injection, see local/async_endpoint.py
    verbose: bool = False
    config: ServiceConfig = field(default_factory=config_from_cdk_json)

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "stack.json"


def process_environment(moto_url: str, endpoint_url: str) -> dict[str, str]:
    """What every function shares in this process: the endpoints that point boto3 at this machine
    and Powertools' variables (the local identity, `local.account.environment`, comes with
    `use_local_identity`). Each function's own settings are its own environment (local/functions.py)."""
    return {
        **contract.runtime_environment(),
        "AWS_ENDPOINT_URL": moto_url,
        # boto3's service-specific endpoint variable: only sagemaker-runtime goes to the local endpoint.
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint_url,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    }


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.config = options.config
        self.names = ResourceNames.for_config(self.config)
        self._exit = ExitStack()
        self.info: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        """Bring everything up; on any failure, stop what already started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self.info

    def stop(self) -> None:
        self.options.stack_file.unlink(missing_ok=True)
        self._exit.close()

    def _start(self) -> None:
        opts = self.options
        moto = MotoEmulator(opts.moto_port, opts.host)
        moto.start()
        self._exit.callback(moto.stop)

        endpoint_port = opts.endpoint_port or free_port(opts.host)
        endpoint_url = f"http://{opts.host}:{endpoint_port}"
        # This process plays the functions' runtime: the local identity and endpoints replace any
        # AWS_* setting of the user's, for the handlers, the ASL engine and the container alike.
        account.use_local_identity(os.environ, **process_environment(moto.url, endpoint_url))
        # The web app's origin is the one browser origin the API allows (CloudFront's on AWS).
        web_port = opts.web_port or free_port(opts.host)
        web_origin = f"http://{opts.host}:{web_port}"
        if not opts.verbose:
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
            os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

        create_data_and_storage(moto.client("dynamodb"), moto.client("s3"), self.names)
        messaging = create_messaging(moto.client("sns"), moto.client("sqs"), self.names)
        lifecycle = create_lifecycle_events(moto.client("events"), moto.client("sqs"), self.names)
        pool = create_user_pool(moto.client("cognito-idp"), self.names)
        upload_check = create_upload_check(moto.client("s3"), moto.client("sqs"), self.names)

        container_port = opts.container_port or free_port(opts.host)
        container_url = f"http://{opts.host}:{container_port}"
        self._start_endpoint(moto, messaging, container_url, endpoint_port)
        values = substitutions(
            self.names,
            inference_timeout_s=self.config.inference_timeout_minutes * 60,
        )
        state_machine_arn = create_state_machine(moto.client("stepfunctions"), self.names, values)
        # Each function with only its own environment, as the CDK app gives it.
        cognito = CognitoSettings(moto.url, pool.user_pool_id, pool.client_id)
        env = environments(
            local_values(
                self.config,
                self.names,
                state_machine_arn=state_machine_arn,
                api_origins=web_origin,
                user_pool=cognito,
            )
        )
        # The state machine's tasks, and the upload analyzer the upload check invokes (a function
        # of the transcriber's image).
        analyzer = self.names.function(contract.UPLOAD_ANALYZER)
        invoked = task_handlers(self.names, env) | {
            analyzer: load(contract.UPLOAD_ANALYZER, env[contract.UPLOAD_ANALYZER])
        }
        self._exit.enter_context(route_lambda_invokes(invoked))
        self._exit.enter_context(atomic_transactions())
        # StopExecution (cancel) must end a token wait at once, as on AWS (see local/sfn_patches.py).
        self._exit.enter_context(stop_interrupts_waiting_tasks())

        container = ContainerProcess(
            serve_command(opts.host, container_port),
            container_port,
            serve_environment(moto.url, opts.model_dir),
            log_path=opts.state_dir / "logs" / "container.log",
            host=opts.host,
        )
        self._exit.callback(container.stop)
        container.start(opts.container_ready_timeout_s)

        watcher = ExecutionStatusWatcher(
            moto.client("stepfunctions"),
            state_machine_arn,
            load("reaper", env["reaper"]),
            function_name=self.names.function("reaper"),
        )
        watcher.start()
        self._exit.callback(watcher.stop)

        # The event source mappings: (consumer, queue, handler, function name, concurrent batches).
        # Webhook batches run five at once, as Lambda's mapping starts: one slow receiver's batch
        # (up to DELIVERY_DEADLINE_S) must not hold up other users' events.
        mappings = [
            (contract.INFERENCE_CALLBACK, messaging.callback_queue_url, messaging.callback_queue_arn, 1),
            (contract.UPLOAD_CHECK, upload_check.queue_url, upload_check.queue_arn, 1),
            (contract.WEBHOOK_SENDER, lifecycle.webhook_queue_url, lifecycle.webhook_queue_arn, 5),
        ]
        for consumer, queue_url, queue_arn, concurrency in mappings:
            poller = SqsPoller(
                moto.client("sqs"),
                queue_url,
                queue_arn,
                load(consumer.function, env[consumer.function]),
                function_name=self.names.function(consumer.function),
                timeout_s=consumer.function_timeout_s,
                batch_size=consumer.batch_size,
                concurrency=concurrency,
            )
            poller.start()
            self._exit.callback(poller.stop)

        api = ApiServer(
            ApiGateway(
                load("authorizer", env["authorizer"]),
                load("api", env["api"]),
                service_routes(),
                cors_origin=web_origin,
            ),
            opts.api_port,
            opts.host,
        )
        api.start()
        self._exit.callback(api.stop)

        web = WebServer(
            WebSettings(api.url, REGION, pool.user_pool_id, pool.client_id, moto.url), web_port, opts.host
        )
        web.start()
        self._exit.callback(web.stop)

        self.info = self._describe(api.url, moto.url, endpoint_url, container.url, pool, messaging)
        self.info["web_url"] = web.url
        self.info["container_pid"] = container.pid
        self.info["state_machine_arn"] = state_machine_arn
        self._write_stack_file()

    def _start_endpoint(
        self, moto: MotoEmulator, messaging: Messaging, container_url: str, port: int
    ) -> None:
        bucket = self.names.inference_bucket
        endpoint = AsyncEndpoint(
            EndpointConfig.of_stack(self.names.endpoint, bucket, messaging),
            moto.client("s3"),
            moto.client("sns"),
            ContainerModel(container_url, corrupt_marker=self.options.corrupt_marker),
        )
        server = AsyncEndpointServer(endpoint, port, self.options.host)
        endpoint.start(workers=self.config.max_concurrent_invocations_per_instance)
        self._exit.callback(endpoint.stop)
        server.start()
        self._exit.callback(server.stop)

    def _describe(
        self,
        api_url: str,
        moto_url: str,
        endpoint_url: str,
        container_url: str,
        pool: UserPool,
        messaging: Messaging,
    ) -> dict[str, Any]:
        names = self.names
        return {
            "api_url": api_url,
            "region": REGION,
            "pid": os.getpid(),
            "cognito": {
                "endpoint_url": moto_url,
                "user_pool_id": pool.user_pool_id,
                "client_id": pool.client_id,
            },
            "aws_endpoint_url": moto_url,
            "sagemaker_runtime_endpoint_url": endpoint_url,
            "container_url": container_url,
            "model_profile": "tiny" if self.options.model_dir is None else "full",
            "tables": {
                "jobs": names.jobs_table,
                "users": names.users_table,
                "idempotency": names.idempotency_table,
                "uploads": names.uploads_table,
                "personas": names.personas_table,
                "api_keys": names.api_keys_table,
                "rate_limits": names.rate_limits_table,
            },
            "buckets": {
                "media": names.media_bucket,
                "inference": names.inference_bucket,
                "uploads": names.uploads_bucket,
            },
            "endpoint_name": self.names.endpoint,
            "topics": {"success": messaging.success_topic_arn, "error": messaging.error_topic_arn},
            "queues": {
                "callback": messaging.callback_queue_url,
                "callback_dlq": messaging.callback_dlq_url,
                "webhooks": self.names.webhook_queue,
                "webhooks_dlq": self.names.webhook_dlq,
            },
            "event_bus": self.names.event_bus,
        }

    def _write_stack_file(self) -> None:
        path = self.options.stack_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info, indent=2) + "\n")
        tmp.replace(path)  # atomic: a reader never sees half a file
