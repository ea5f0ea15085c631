"""The service stack: composes the logical units and wires the grants between them."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .config import ServiceConfig
from .data import DataStore
from .functions import powertools_layer
from .storage import Storage
from .workflow import GenerationWorkflow

# The retention periods offered in `log_retention_days` (config validates against these keys).
LOG_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


class SongServiceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ServiceConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("service", "song-service")
        Tags.of(self).add("stage", config.stage_name)

        retain = config.removal_policy_retain
        self.data = DataStore(self, "Data", retain=retain)
        self.storage = Storage(self, "Storage", retain=retain, cors_allow_origins=config.cors_allow_origins)
        self.log_retention = LOG_RETENTION[config.log_retention_days]

        CfnOutput(self, "JobsTableName", value=self.data.jobs_table.table_name)
        CfnOutput(self, "UsersTableName", value=self.data.users_table.table_name)
        CfnOutput(self, "MediaBucketName", value=self.storage.media_bucket.bucket_name)
        CfnOutput(self, "InferenceBucketName", value=self.storage.inference_bucket.bucket_name)

        self.workflow = self._add_generation_workflow()

    @cached_property
    def powertools_layer(self) -> lambda_.ILayerVersion:
        """Created on first use so a stack without functions carries no dangling SSM parameter."""
        return powertools_layer(self, self.config.powertools_layer_version)

    def function_environment(self) -> dict[str, str]:
        """Environment every function shares: names, business settings, Powertools settings."""
        config = self.config
        return {
            "STAGE_NAME": config.stage_name,
            "POWERTOOLS_SERVICE_NAME": "song-service",
            "POWERTOOLS_METRICS_NAMESPACE": config.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "JOBS_TABLE_NAME": self.data.jobs_table.table_name,
            "USERS_TABLE_NAME": self.data.users_table.table_name,
            "SIGNUP_CREDITS": str(config.signup_credits),
            "CREDITS_PER_SONG": str(config.credits_per_song),
            "MAX_CONCURRENT_JOBS_PER_USER": str(config.max_concurrent_jobs_per_user),
        }

    # --- generation workflow (issue 4) ---

    def _add_generation_workflow(self) -> GenerationWorkflow:
        """State machine, task functions, async SageMaker endpoint, notifications, reaper.

        The API starts `self.workflow.state_machine` (grant_start_execution + STATE_MACHINE_ARN).
        """
        workflow = GenerationWorkflow(
            self,
            "Workflow",
            config=self.config,
            data=self.data,
            media_bucket=self.storage.media_bucket,
            inference_bucket=self.storage.inference_bucket,
            layer=self.powertools_layer,
            log_retention=self.log_retention,
            environment=self.function_environment(),
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "EndpointName", value=workflow.inference.endpoint_name)
        return workflow
