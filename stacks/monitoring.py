"""Operations: one CloudWatch dashboard and the alarms that page the on-call through SNS.

The dashboard answers three questions, top to bottom: is it healthy (API, workflow, errors), is it
keeping up (endpoint backlog, capacity, queues), what does it cost (instances, songs, credits).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.common import business_metrics as bm

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
WIDTH = 24

# Alarm thresholds: chosen so a single flaky request does not page, a real outage does within
# ~15 minutes. docs/operations.md explains each one.
API_5XX_RATE_PERCENT = 5
WORKFLOW_FAILURES_PER_15_MIN = 5
BACKLOG_WITHOUT_CAPACITY_MINUTES = 20
LAMBDA_ERRORS_PER_5_MIN = 5
CALLBACK_QUEUE_MAX_AGE_S = 600


@dataclass
class MonitoredResources:
    """Everything the dashboard and alarms look at, handed over by the stack."""

    stage_name: str
    namespace: str
    api: apigw.RestApi
    state_machine: sfn.IStateMachine
    endpoint_name: str
    variant_name: str
    callback_queue: sqs.IQueue
    dead_letter_queues: dict[str, sqs.IQueue]
    functions: dict[str, lambda_.IFunction]
    tables: dict[str, dynamodb.ITable]
    endpoint_hourly_usd: float


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, resources: MonitoredResources, alarm_email: str | None
    ) -> None:
        super().__init__(scope, construct_id)
        self._r = resources
        self.alarm_topic = self._alarm_topic(alarm_email)
        self.alarms: list[cw.Alarm] = []
        self._create_alarms()
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"song-service-{resources.stage_name}",
            default_interval=Duration.hours(6),
        )
        for row in (
            self._health_rows(),
            self._capacity_rows(),
            self._business_rows(),
            self._component_rows(),
        ):
            for widgets in row:
                self.dashboard.add_widgets(*widgets)

    # ---------------------------------------------------------------- alarm topic
    def _alarm_topic(self, alarm_email: str | None) -> sns.Topic:
        # CloudWatch can publish to an encrypted topic only with a customer managed key it may use.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="Alarm topic encryption",
            # Kept with the stack's other state, but not left over by a failed first deploy.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        topic = sns.Topic(
            self, "AlarmTopic", master_key=key, enforce_ssl=True, display_name="Song service alarms"
        )
        # The topic policy CDK writes (enforce_ssl) replaces SNS's default policy, so CloudWatch
        # (a service principal) may publish only if a statement says so; the key policy likewise.
        # Both only for alarms of this account and region (confused-deputy protection).
        alarms_of_this_account = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
            },
        }
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                actions=["sns:Publish"],
                principals=[cloudwatch],
                resources=[topic.topic_arn],
                conditions=alarms_of_this_account,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[cloudwatch],
                resources=["*"],
                conditions=alarms_of_this_account,
            )
        )
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        return topic

    # ---------------------------------------------------------------- alarms
    def _alarm(
        self,
        construct_id: str,
        *,
        metric: cw.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{description} Runbook: docs/operations.md#{construct_id.lower()}",
        )
        action = cw_actions.SnsAction(self.alarm_topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm

    def _create_alarms(self) -> None:
        r = self._r
        self._alarm(
            "Api5xxRate",
            metric=cw.MathExpression(
                expression="100 * errors / MAX([requests, 1])",
                using_metrics={
                    "errors": r.api.metric_server_error(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                    "requests": r.api.metric_count(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                },
                label="API 5xx %",
                period=FIVE_MINUTES,
            ),
            threshold=API_5XX_RATE_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"More than {API_5XX_RATE_PERCENT}% of API requests fail with 5xx.",
        )
        self._alarm(
            "WorkflowFailures",
            metric=r.state_machine.metric_failed(period=Duration.minutes(15), statistic=cw.Stats.SUM),
            threshold=WORKFLOW_FAILURES_PER_15_MIN,
            description="Many song workflows failed in 15 minutes (model or infrastructure errors).",
        )
        self._alarm(
            "WorkflowTimeouts",
            metric=r.state_machine.metric_timed_out(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
            threshold=1,
            description="A song workflow hit its execution timeout.",
        )
        self._alarm(
            "BacklogWithoutCapacity",
            metric=self._endpoint_metric("HasBacklogWithoutCapacity", cw.Stats.MINIMUM, ONE_MINUTE),
            threshold=1,
            evaluation_periods=BACKLOG_WITHOUT_CAPACITY_MINUTES,
            description=f"Requests waited {BACKLOG_WITHOUT_CAPACITY_MINUTES} minutes with no endpoint "
            "instance: scale-out from zero is not happening.",
        )
        for name, queue in r.dead_letter_queues.items():
            self._alarm(
                f"DeadLetters{name}",
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM
                ),
                threshold=1,
                description=f"Messages reached the {name} dead-letter queue: they were not handled.",
            )
        for name, function in r.functions.items():
            self._alarm(
                f"LambdaErrors{_camel(name)}",
                metric=function.metric_errors(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                threshold=LAMBDA_ERRORS_PER_5_MIN,
                description=f"The {name} function keeps failing.",
            )
        self._alarm(
            "CallbackQueueAge",
            metric=r.callback_queue.metric_approximate_age_of_oldest_message(
                period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM
            ),
            threshold=CALLBACK_QUEUE_MAX_AGE_S,
            description="Inference notifications wait too long for the callback function.",
        )

    # ---------------------------------------------------------------- metrics helpers
    def _endpoint_metric(self, name: str, statistic: str, period: Duration = FIVE_MINUTES) -> cw.Metric:
        return cw.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": self._r.endpoint_name},
            statistic=statistic,
            period=period,
        )

    def _variant_metric(
        self, name: str, statistic: str, namespace: str = "AWS/SageMaker", period: Duration = FIVE_MINUTES
    ) -> cw.Metric:
        return cw.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={"EndpointName": self._r.endpoint_name, "VariantName": self._r.variant_name},
            statistic=statistic,
            period=period,
        )

    def _business(self, spec: bm.MetricSpec, statistic: str = cw.Stats.SUM, **dimensions: str) -> cw.Metric:
        return cw.Metric(
            namespace=self._r.namespace,
            metric_name=spec.name,
            dimensions_map={"service": bm.SERVICE, "stage": self._r.stage_name, **dimensions},
            statistic=statistic,
            period=FIVE_MINUTES,
            label=" ".join([spec.name, *dimensions.values()]),
        )

    def _instances(self) -> cw.Metric:
        # Every instance reports CPUUtilization once a minute: the sample count is the instance count.
        return self._variant_metric(
            "CPUUtilization", cw.Stats.SAMPLE_COUNT, "/aws/sagemaker/Endpoints", ONE_MINUTE
        ).with_(label="Instances in service")

    # ---------------------------------------------------------------- rows
    def _health_rows(self) -> list[list[cw.IWidget]]:
        r = self._r
        latency = [r.api.metric_latency(statistic=s, period=FIVE_MINUTES) for s in ("p50", "p90", "p99")]
        return [
            [
                cw.TextWidget(
                    markdown=f"# Song service ({r.stage_name})\nIs it healthy?", width=WIDTH, height=1
                )
            ],
            [
                cw.AlarmStatusWidget(alarms=self.alarms, title="Alarms", width=WIDTH, height=3),
            ],
            [
                cw.GraphWidget(
                    title="API requests and errors",
                    left=[r.api.metric_count(period=FIVE_MINUTES, statistic=cw.Stats.SUM)],
                    right=[
                        r.api.metric_client_error(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                        r.api.metric_server_error(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                    ],
                    width=8,
                ),
                cw.GraphWidget(title="API latency (ms)", left=latency, width=8),
                cw.GraphWidget(
                    title="Workflow executions",
                    left=[
                        r.state_machine.metric_started(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                        r.state_machine.metric_succeeded(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                        r.state_machine.metric_failed(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                        r.state_machine.metric_timed_out(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                        r.state_machine.metric_aborted(period=FIVE_MINUTES, statistic=cw.Stats.SUM),
                    ],
                    right=[r.state_machine.metric_time(period=FIVE_MINUTES, statistic="p90")],
                    width=8,
                ),
            ],
        ]

    def _capacity_rows(self) -> list[list[cw.IWidget]]:
        r = self._r
        return [
            [cw.TextWidget(markdown="## Is it keeping up?", width=WIDTH, height=1)],
            [
                cw.GraphWidget(
                    title="Endpoint backlog and capacity",
                    left=[
                        self._endpoint_metric("ApproximateBacklogSize", cw.Stats.MAXIMUM, ONE_MINUTE),
                        self._endpoint_metric(
                            "ApproximateBacklogSizePerInstance", cw.Stats.MAXIMUM, ONE_MINUTE
                        ),
                    ],
                    right=[
                        self._endpoint_metric("HasBacklogWithoutCapacity", cw.Stats.MAXIMUM, ONE_MINUTE),
                        self._instances(),
                    ],
                    width=8,
                ),
                cw.GraphWidget(
                    title="Model latency and errors",
                    left=[self._variant_metric("ModelLatency", "p90")],
                    right=[
                        self._variant_metric("Invocation4XXErrors", cw.Stats.SUM),
                        self._variant_metric("Invocation5XXErrors", cw.Stats.SUM),
                    ],
                    width=8,
                ),
                cw.GraphWidget(
                    title="GPU and GPU memory utilization (%)",
                    left=[
                        self._variant_metric("GPUUtilization", cw.Stats.AVERAGE, "/aws/sagemaker/Endpoints"),
                        self._variant_metric(
                            "GPUMemoryUtilization", cw.Stats.MAXIMUM, "/aws/sagemaker/Endpoints"
                        ),
                    ],
                    width=8,
                ),
            ],
            [
                cw.GraphWidget(
                    title="Callback queue and dead letters",
                    left=[
                        r.callback_queue.metric_approximate_number_of_messages_visible(
                            period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM
                        ),
                        *(
                            q.metric_approximate_number_of_messages_visible(
                                period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM, label=f"{n} DLQ depth"
                            )
                            for n, q in r.dead_letter_queues.items()
                        ),
                    ],
                    right=[
                        r.callback_queue.metric_approximate_age_of_oldest_message(
                            period=FIVE_MINUTES, statistic=cw.Stats.MAXIMUM
                        )
                    ],
                    width=12,
                ),
                cw.GraphWidget(
                    title="Queue wait and end-to-end time (s)",
                    left=[
                        self._business(bm.QUEUE_WAIT_SECONDS, "p90"),
                        self._business(bm.END_TO_END_SECONDS, "p50"),
                        self._business(bm.END_TO_END_SECONDS, "p90"),
                    ],
                    width=12,
                ),
            ],
        ]

    def _business_rows(self) -> list[list[cw.IWidget]]:
        songs_failed = cw.MathExpression(
            expression=(
                f"SEARCH('{{{self._r.namespace},service,stage,error_code}} "
                f'MetricName="{bm.SONGS_FAILED.name}" stage="{self._r.stage_name}"\', \'Sum\', 300)'
            ),
            label="",
            period=FIVE_MINUTES,
        )
        hourly = self._r.endpoint_hourly_usd
        return [
            [cw.TextWidget(markdown="## What does it cost?", width=WIDTH, height=1)],
            [
                cw.GraphWidget(
                    title="Songs by mode",
                    left=[self._business(bm.SONGS_REQUESTED, mode=m) for m in bm.MODES]
                    + [self._business(bm.SONGS_PROCESSED, mode=m) for m in bm.MODES],
                    width=8,
                ),
                cw.GraphWidget(title="Failed songs by error code", left=[songs_failed], width=8),
                cw.GraphWidget(
                    title="Generation seconds per step (p50)",
                    left=[self._business(bm.GENERATION_SECONDS, "p50", step=s) for s in bm.GENERATION_STEPS],
                    width=8,
                ),
            ],
            [
                cw.GraphWidget(
                    title=f"GPU spend estimate (USD/hour at ${hourly}/instance-hour)",
                    left=[
                        cw.MathExpression(
                            expression=f"instances * {hourly}",
                            using_metrics={"instances": self._instances()},
                            label="USD per hour",
                            period=ONE_MINUTE,
                        )
                    ],
                    width=12,
                ),
                cw.GraphWidget(
                    title="Credits charged and songs processed",
                    left=[self._business(bm.CREDITS_CHARGED)],
                    right=[self._business(bm.SONGS_REJECTED, reason="InsufficientCredits")],
                    width=12,
                ),
            ],
        ]

    def _component_rows(self) -> list[list[cw.IWidget]]:
        r = self._r
        fns = r.functions.items()
        tables = r.tables.items()
        return [
            [cw.TextWidget(markdown="## Components", width=WIDTH, height=1)],
            [
                cw.GraphWidget(
                    title="Lambda errors",
                    left=[f.metric_errors(period=FIVE_MINUTES, label=n) for n, f in fns],
                    width=6,
                ),
                cw.GraphWidget(
                    title="Lambda throttles",
                    left=[f.metric_throttles(period=FIVE_MINUTES, label=n) for n, f in fns],
                    width=6,
                ),
                cw.GraphWidget(
                    title="Lambda duration p90 (ms)",
                    left=[f.metric_duration(period=FIVE_MINUTES, statistic="p90", label=n) for n, f in fns],
                    width=6,
                ),
                cw.GraphWidget(
                    title="DynamoDB throttled requests",
                    left=[
                        cw.Metric(
                            namespace="AWS/DynamoDB",
                            metric_name=metric,
                            dimensions_map={"TableName": t.table_name},
                            statistic=cw.Stats.SUM,
                            period=FIVE_MINUTES,
                            label=f"{n} {metric}",
                        )
                        for n, t in tables
                        for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
                    ],
                    width=6,
                ),
            ],
        ]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
