"""The workflow in-process, for the workflow tests and the workflow benchmark: moto (`mock_aws`)
executing the real ASL, the real handlers in-process, the async endpoint (local/async_endpoint.py)
with placeholder media (local/placeholder_model.py),
and helpers that drive it the way the API does. No servers and no container: the local stack
(local/stack.py) is the whole service; this is the workflow alone, fast and scriptable."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from lambdas.api.services.executions import execution_input
from lambdas.common.contract import INFERENCE_CALLBACK
from lambdas.common.models import Job, JobPersona, JobSource, queued_job
from lambdas.common.pricing import request_price
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.slots import SlotStore
from lambdas.common.store.users import UserStore
from local.async_endpoint import AsyncEndpoint, EndpointConfig
from local.dynamodb_patches import atomic_transactions
from local.functions import every_variable, load, local_values
from local.lambda_routing import route_lambda_invokes
from local.placeholder_model import PlaceholderModel
from local.resources import ResourceNames, create_data_and_storage, create_lifecycle_events, create_messaging
from local.sfn_patches import stop_interrupts_waiting_tasks
from local.sqs_poller import SqsPoller
from local.workflow import create_state_machine, substitutions, task_handlers
from stacks.config import ServiceConfig

CREDITS_PER_MINUTE = 2
INFERENCE_TIMEOUT_S = ServiceConfig().inference_timeout_minutes * 60
SIGNUP_CREDITS = ServiceConfig().signup_credits  # a user not created first gets these, as from the API
REQUEST = {
    "mode": "description",
    "description": "a calm lofi song about rain",
    "instrumental": False,
    "duration_s": 60,
    "seed": None,
    "guidance_scale": 15.0,
    "inference_steps": 60,
    "formats": ["wav", "mp3"],
}


@dataclass
class Workflow:
    """One deployed copy of the workflow in moto plus helpers to drive it like the API does."""

    resources: ResourceNames
    endpoint: AsyncEndpoint
    state_machine_arn: str = ""
    sfn: Any = field(default_factory=lambda: boto3.client("stepfunctions"))

    def deploy(self, **overrides: Any) -> str:
        values = substitutions(self.resources, inference_timeout_s=INFERENCE_TIMEOUT_S, slot_poll_s=60)
        values |= overrides
        if self.state_machine_arn:
            self.sfn.delete_state_machine(stateMachineArn=self.state_machine_arn)
        self.state_machine_arn = create_state_machine(self.sfn, self.resources, values)
        return self.state_machine_arn

    @property
    def jobs(self) -> JobStore:
        return JobStore(self.resources.jobs_table)

    @property
    def users(self) -> UserStore:
        return UserStore(self.resources.users_table)

    @property
    def ledger(self) -> CreditLedger:
        return CreditLedger(self.jobs, self.users)

    def user(self, user_id: str, credits: int) -> None:
        self.users.get_or_create(user_id, signup_credits=credits)

    def submit(
        self,
        user_id: str,
        request: dict | None = None,
        *,
        start: bool = True,
        reserve: bool = True,
        source: JobSource | None = None,
        persona: JobPersona | None = None,
    ) -> Job:
        """What POST /songs does: the job row with its price reserved, then StartExecution named
        after the job. `reserve=False` writes a row without a reservation; `source`: an audio-in
        song's source, as the API resolves it."""
        body = request or REQUEST
        price = request_price(body, CREDITS_PER_MINUTE, transcribe_credits=ServiceConfig().transcribe_credits)
        job = queued_job(user_id, body, price_credits=price, source=source, persona=persona)
        job = self.ledger.create_reserved(job, SIGNUP_CREDITS) if reserve else self.jobs.create(job)
        if start:
            self.start(job)
        time.sleep(0.002)  # distinct created_at values keep submission order unambiguous
        return job

    def start(self, job: Job) -> None:
        self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=job.job_id, input=json.dumps(execution_input(job))
        )

    def execution_arn(self, job_id: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"

    def wait(self, job_id: str, timeout_s: float = 30) -> dict[str, Any]:
        """Wait for the job's execution to end; returns DescribeExecution."""
        deadline = time.monotonic() + timeout_s
        while True:
            described = self.sfn.describe_execution(executionArn=self.execution_arn(job_id))
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {job_id} still running after {timeout_s}s")
            time.sleep(0.05)

    def history(self, job_id: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=self.execution_arn(job_id))["events"]

    def job(self, job_id: str) -> Job:
        job = self.jobs.find(job_id)
        assert job is not None
        return job

    def credits(self, user_id: str) -> int:
        user = self.users.find(user_id)
        assert user is not None
        return user.credits

    def jobs_of(self, user_id: str) -> list[Job]:
        return self.jobs.list_for_user(user_id, limit=50)[0]

    def reserved(self, user_id: str) -> int:
        user = self.users.find(user_id)
        assert user is not None
        return user.reserved_credits

    def slots(self, user_id: str) -> set[str]:
        return SlotStore(self.resources.users_table, self.resources.jobs_table).holders(user_id)

    def media_keys(self, prefix: str = "") -> list[str]:
        response = boto3.client("s3").list_objects_v2(Bucket=self.resources.media_bucket, Prefix=prefix)
        return sorted(obj["Key"] for obj in response.get("Contents", []))

    def scratch_keys(self, prefix: str) -> list[str]:
        response = boto3.client("s3").list_objects_v2(Bucket=self.resources.inference_bucket, Prefix=prefix)
        return sorted(obj["Key"] for obj in response.get("Contents", []))


def _stop_running(flow: Workflow) -> None:
    """Leave no execution thread waiting on a token after the test."""
    for execution in flow.sfn.list_executions(stateMachineArn=flow.state_machine_arn)["executions"]:
        if execution["status"] == "RUNNING":
            flow.sfn.stop_execution(executionArn=execution["executionArn"])


def _endpoint(config: ServiceConfig, resources: ResourceNames) -> AsyncEndpoint:
    """The async endpoint with placeholder media; its notifications go through SNS to the callback
    queue (raw delivery, as deployed), and each is handed to the callback function at once, the way
    its event source mapping would (the tests see the callback's answer)."""
    sqs = boto3.client("sqs")
    messaging = create_messaging(boto3.client("sns"), sqs, resources)
    endpoint = AsyncEndpoint(
        EndpointConfig.of_stack(config.endpoint_name, resources.inference_bucket, messaging),
        boto3.client("s3"),
        boto3.client("sns"),
        PlaceholderModel(),
    )
    callback = SqsPoller(
        sqs,
        messaging.callback_queue_url,
        messaging.callback_queue_arn,
        load("inference_callback"),
        function_name=resources.function("inference_callback"),
        batch_size=INFERENCE_CALLBACK.batch_size,
        timeout_s=INFERENCE_CALLBACK.function_timeout_s,
    )
    endpoint.deliver = callback.handle_next
    return endpoint


@contextmanager
def sandbox(setenv: Callable[[str, str], None], limit: int = 1) -> Iterator[Workflow]:
    """moto executing state machines, tables and buckets, the state machine, routed handlers.

    `setenv` sets the functions' environment variables (monkeypatch.setenv in tests).
    """
    from moto import mock_aws

    from lambdas.common import aws, runtime

    config = ServiceConfig(
        stage_name="test", credits_per_minute=CREDITS_PER_MINUTE, max_concurrent_jobs_per_user=limit
    )
    resources = ResourceNames.for_config(config)
    # The workflow's functions share this process's environment here: every function's variables.
    values = local_values(config, resources, state_machine_arn="", api_origins="*")
    for key, value in every_variable(values).items():
        setenv(key, value)

    def forget_cached() -> None:
        aws.reset()
        runtime.reset_all()

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        forget_cached()
        create_data_and_storage(boto3.client("dynamodb"), boto3.client("s3"), resources)
        create_lifecycle_events(boto3.client("events"), boto3.client("sqs"), resources)
        endpoint = _endpoint(config, resources)
        flow = Workflow(resources=resources, endpoint=endpoint)
        with (
            endpoint.installed(),
            route_lambda_invokes(task_handlers(resources)),
            stop_interrupts_waiting_tasks(),
            atomic_transactions(),
        ):
            flow.deploy()
            try:
                yield flow
            finally:
                _stop_running(flow)
        forget_cached()
