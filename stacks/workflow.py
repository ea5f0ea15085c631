"""The generation workflow: the state machine (ASL from statemachines/), its task functions, the
SageMaker notification consumer and the reaper of executions that ended without cleaning up. The
async endpoint it hands jobs to is a unit of its own (stacks/inference.py); the stack connects them."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.common import contract
from lambdas.common.contract import (
    ASYNC_OUTPUT_PREFIX,
    INFERENCE_CALLBACK,
    JOBS_BY_USER,
    REQUESTS_PREFIX,
    SCRATCH_MEDIA_PREFIX,
    SONGS_PREFIX,
)

from .config import ServiceConfig
from .data import DataStore
from .functions import FunctionKit, ServiceFunction
from .grants import allow_items, allow_list, allow_objects, allow_query
from .nag import acknowledge, logical_id
from .queues import dead_letter_queue

ASL_PATH = Path(__file__).resolve().parent.parent / "statemachines" / "song_generation.asl.json"


class GenerationWorkflow(Construct):
    """Attributes: state_machine, state_machine_name, state_machine_log_group, functions (by the
    package under lambdas/), acquire_slot, start_inference, publish, finalize, callback, reaper
    (ServiceFunction), reaper_rule, reaper_dlq."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ServiceConfig,
        data: DataStore,
        media_bucket: s3.IBucket,
        inference_bucket: s3.IBucket,
        transcriber: lambda_.IFunction,
        kit: FunctionKit,
    ) -> None:
        super().__init__(scope, construct_id)
        self._transcriber = transcriber
        self._data = data
        self._media = media_bucket
        self._scratch = inference_bucket

        def function(construct_id: str, name: str, description: str, **kwargs: int) -> ServiceFunction:
            return ServiceFunction(self, construct_id, kit=kit, name=name, description=description, **kwargs)

        self.acquire_slot = function("AcquireSlot", "acquire_slot", "workflow: wait for the user's slot")
        self.start_inference = function(
            "StartInference", "start_inference", "workflow: start async inference"
        )
        self.publish = function(
            "Publish", "publish_song", "workflow: publish the song's media", timeout_s=120
        )
        self.finalize = function("Finalize", "finalize_job", "workflow: release the slot, record the outcome")
        self.callback = function(
            "InferenceCallback",
            "inference_callback",
            "SageMaker async notifications to the waiting workflow task",
            timeout_s=INFERENCE_CALLBACK.function_timeout_s,
        )
        self.reaper = function("Reaper", "reaper", "cleans up after aborted, timed-out or failed executions")

        self.state_machine_name = contract.state_machine_name(config.resource_prefix)
        self.state_machine = self._state_machine(config, kit.log_retention)
        self._grant_tasks()
        self._reaper_rule()

    @property
    def functions(self) -> list[ServiceFunction]:
        return [
            self.acquire_slot,
            self.start_inference,
            self.publish,
            self.finalize,
            self.callback,
            self.reaper,
        ]

    # --- the state machine ---

    def _state_machine(self, config: ServiceConfig, log_retention: logs.RetentionDays) -> sfn.StateMachine:
        self.state_machine_log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            # The /aws/vendedlogs/ prefix keeps the log group's resource policy small.
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_PATH)),
            definition_substitutions={
                "AcquireSlotFunctionArn": self.acquire_slot.function.function_arn,
                "StartInferenceFunctionArn": self.start_inference.function.function_arn,
                "PublishFunctionArn": self.publish.function.function_arn,
                "FinalizeFunctionArn": self.finalize.function.function_arn,
                "TranscriberFunctionArn": self._transcriber.function_arn,
                "InferenceBucketName": self._scratch.bucket_name,
                "ScratchMediaPrefix": SCRATCH_MEDIA_PREFIX,
                "JobsTableName": self._data.jobs_table.table_name,
                "UsersTableName": self._data.users_table.table_name,
                "InferenceTimeoutSeconds": str(config.inference_timeout_minutes * 60),
                "SlotPollSeconds": str(contract.SLOT_POLL_S),
            },
            timeout=Duration.seconds(contract.WORKFLOW_TIMEOUT_S),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        for task in (self.acquire_slot, self.start_inference, self.publish, self.finalize):
            task.function.grant_invoke(machine)
        self._transcriber.grant_invoke(machine)
        # Direct integrations: CheckReservation (jobs GetItem) and MarkProcessing (a transaction:
        # the user's slot check + the job update). The charge runs in finalize-job.
        allow_items(machine.role, self._data.jobs_table, "dynamodb:GetItem", "dynamodb:UpdateItem")
        allow_items(machine.role, self._data.users_table, "dynamodb:ConditionCheckItem")
        acknowledge(
            machine,
            "AwsSolutions-IAM5",
            "Lambda invoke grants cover the functions' versions (:*); X-Ray and CloudWatch Logs delivery "
            "actions have no resource-level permissions.",
            *self._state_machine_iam5_findings(),
        )
        return machine

    def _state_machine_iam5_findings(self) -> list[str]:
        ids = [
            logical_id(t.function.node.default_child)
            for t in (self.acquire_slot, self.start_inference, self.publish, self.finalize)
        ]
        ids.append(logical_id(self._transcriber.node.default_child))
        return ["Resource::*", *(f"Resource::<{i}.Arn>:*" for i in ids)]

    # --- least-privilege grants of each task ---

    def _grant_tasks(self) -> None:
        jobs, users = self._data.jobs_table, self._data.users_table
        read_update = ("dynamodb:GetItem", "dynamodb:UpdateItem")
        # Built from the name: referencing the state machine here would make a dependency cycle
        # (its definition names these functions, their policies would name it).
        machine_arn = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        task_response = iam.PolicyStatement(
            actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=[machine_arn]
        )
        # Slot hand-over: read and update jobs, query the user's queue (by_user index), and a
        # transaction on the user's slot set with a check on the job.
        for task in (self.acquire_slot, self.finalize, self.reaper):
            allow_items(task.role, jobs, *read_update, "dynamodb:ConditionCheckItem")
            allow_query(task.role, jobs, JOBS_BY_USER.name)
            allow_items(task.role, users, *read_update)
            task.role.add_to_policy(task_response)
        for task in (self.finalize, self.reaper):
            # A failed job leaves no media behind.
            allow_list(task.role, self._media, SONGS_PREFIX)
            allow_list(task.role, self._scratch, SCRATCH_MEDIA_PREFIX)
            allow_objects(task.role, self._media, SONGS_PREFIX, "s3:DeleteObject")
            allow_objects(task.role, self._scratch, SCRATCH_MEDIA_PREFIX, "s3:DeleteObject")
            self._acknowledge_prefixes(
                task, (self._media, SONGS_PREFIX), (self._scratch, SCRATCH_MEDIA_PREFIX)
            )

        allow_items(self.start_inference.role, jobs, *read_update)
        allow_objects(self.start_inference.role, self._scratch, REQUESTS_PREFIX, "s3:PutObject")
        self._acknowledge_prefixes(self.start_inference, (self._scratch, REQUESTS_PREFIX))

        allow_items(self.publish.role, jobs, *read_update)
        allow_objects(
            self.publish.role, self._scratch, SCRATCH_MEDIA_PREFIX, "s3:GetObject", "s3:DeleteObject"
        )
        # A retried copy whose scratch source was already removed must see 404 (then it checks the
        # destination); without ListBucket S3 answers 403 and the song would fail after publishing.
        allow_list(self.publish.role, self._scratch, SCRATCH_MEDIA_PREFIX)
        allow_objects(self.publish.role, self._scratch, REQUESTS_PREFIX, "s3:DeleteObject")
        # GetObject on the destination: a retried copy checks that the song already landed.
        allow_objects(self.publish.role, self._media, SONGS_PREFIX, "s3:PutObject", "s3:GetObject")
        self._acknowledge_prefixes(
            self.publish,
            (self._scratch, SCRATCH_MEDIA_PREFIX),
            (self._scratch, REQUESTS_PREFIX),
            (self._media, SONGS_PREFIX),
        )

        # UpdateItem: a completed task's token is removed from the job (conditional on that token).
        allow_items(self.callback.role, jobs, "dynamodb:GetItem", "dynamodb:UpdateItem")
        allow_objects(self.callback.role, self._scratch, ASYNC_OUTPUT_PREFIX, "s3:GetObject")
        # A late result of a canceled or failed job is removed from the scratch prefix.
        allow_list(self.callback.role, self._scratch, SCRATCH_MEDIA_PREFIX)
        allow_objects(self.callback.role, self._scratch, SCRATCH_MEDIA_PREFIX, "s3:DeleteObject")
        self.callback.role.add_to_policy(task_response)
        self._acknowledge_prefixes(
            self.callback, (self._scratch, ASYNC_OUTPUT_PREFIX), (self._scratch, SCRATCH_MEDIA_PREFIX)
        )

    def _acknowledge_prefixes(self, task: ServiceFunction, *objects: tuple[s3.IBucket, str]) -> None:
        findings = [f"Resource::<{logical_id(b.node.default_child)}.Arn>/{p}*" for b, p in objects]
        acknowledge(
            task.role,
            "AwsSolutions-IAM5",
            "Object actions limited to the key prefix this task owns (jobs are only known at runtime).",
            *findings,
        )

    # --- executions that ended without cleaning up -> reaper ---

    def _reaper_rule(self) -> None:
        self.reaper_dlq = dead_letter_queue(
            self,
            "ReaperDlq",
            nag_reason="This queue is the dead-letter queue of the reaper's EventBridge target (cdk-nag "
            "only recognises DLQs of other queues).",
        )
        self.reaper_rule = events.Rule(
            self,
            "ExecutionEnded",
            description="Song generation executions that were aborted, timed out or failed",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(contract.REAPED_STATUSES),
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.reaper.function,
                    retry_attempts=contract.REAPER_RETRY_ATTEMPTS,
                    max_event_age=Duration.seconds(contract.REAPER_MAX_EVENT_AGE_S),
                    dead_letter_queue=self.reaper_dlq,
                )
            ],
        )
