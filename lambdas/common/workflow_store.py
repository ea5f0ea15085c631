"""Workflow additions to the jobs/users repositories: task tokens, the per-user slot semaphore.

Kept apart from repositories.py (shared with the API) so both can change without stepping on
each other. Everything here is conditional or set-based, so retries are harmless:
- a user's running jobs are a string set `active_jobs` on the user row (ADD/DELETE are
  idempotent, unlike a counter: a retried acquire or release cannot leak or double-free a slot);
- acquiring is a transaction with a check that the job is still queued, so a job that the
  reaper failed meanwhile can never be handed a slot after its release.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from . import aws
from .models import Job, JobStatus, utc_now
from .repositories import BY_USER_INDEX, JobRepository, from_dynamo, is_conditional_failure
from .settings import get_settings


class WorkflowJob(Job):
    """A job row with the attributes only the workflow reads (the API model ignores them)."""

    slot_token: str | None = None  # token of the AcquireSlot wait, while queued
    task_token: str | None = None  # token of the Generate wait, while processing
    started_at: str | None = None  # queued -> processing
    finished_at: str | None = None  # processing -> processed
    charged_credits: int | None = None


class WorkflowJobRepository(JobRepository):
    def find_workflow_job(self, job_id: str) -> WorkflowJob | None:
        row = self._read(job_id)
        return WorkflowJob.model_validate(row) if row else None

    def save_slot_token(self, job_id: str, token: str) -> bool:
        """Park the AcquireSlot token on a queued job; False when the job is no longer queued."""
        return self._conditional_set(job_id, {"slot_token": token}, JobStatus.QUEUED)

    def save_task_token(self, job_id: str, token: str, input_location: str) -> bool:
        """Store the Generate token before calling SageMaker; False when the job is not processing."""
        return self._conditional_set(
            job_id,
            {"task_token": token, "inference_input": input_location, "stage": "generating"},
            JobStatus.PROCESSING,
        )

    def set_stage(self, job_id: str, stage: str) -> bool:
        """False when the job is no longer processing (canceled meanwhile): nothing written."""
        return self._conditional_set(job_id, {"stage": stage}, JobStatus.PROCESSING)

    def _conditional_set(self, job_id: str, values: dict[str, Any], required: JobStatus) -> bool:
        """SET `values` if the job is in status `required`; False (nothing written) otherwise."""
        names = {f"#a{i}": name for i, name in enumerate(values)} | {"#s": "status"}
        assignments = ", ".join(f"#a{i} = :v{i}" for i in range(len(values)))
        attr_values = {f":v{i}": value for i, value in enumerate(values.values())}
        try:
            self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=f"SET {assignments}, updated_at = :now",
                ConditionExpression="#s = :required",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values | {":now": utc_now(), ":required": required.value},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def queued_jobs(self, user_id: str, created_since: str) -> list[WorkflowJob]:
        """The user's queued jobs created at or after `created_since`, oldest first (submission order).

        Reads the by_user index, which is eventually consistent: callers re-read a row before
        acting on it. Jobs older than `created_since` cannot have a live execution any more.
        """
        query: dict[str, Any] = {
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": Key("user_id").eq(user_id) & Key("created_at").gte(created_since),
            "FilterExpression": Attr("status").eq(JobStatus.QUEUED.value),
            "ScanIndexForward": True,
        }
        jobs: list[WorkflowJob] = []
        while True:
            page = self._table.query(**query)
            jobs.extend(WorkflowJob.model_validate(from_dynamo(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return jobs
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class UserSlots:
    """The per-user semaphore: `active_jobs` (string set) on the user row holds the running jobs."""

    ATTRIBUTE = "active_jobs"

    def __init__(self, users_table: str | None = None, jobs_table: str | None = None) -> None:
        settings = get_settings()
        self._users_table = users_table or settings.users_table_name
        self._jobs_table = jobs_table or settings.jobs_table_name
        self._users = aws.table(self._users_table)

    def holders(self, user_id: str) -> set[str]:
        item = self._users.get_item(
            Key={"user_id": user_id},
            ProjectionExpression=self.ATTRIBUTE,
            ConsistentRead=True,
        ).get("Item")
        return set(item.get(self.ATTRIBUTE, set())) if item else set()

    def acquire(self, user_id: str, job_id: str, limit: int) -> bool:
        """Take a slot for a queued job if fewer than `limit` are held. True if held afterwards."""
        client = aws.client("dynamodb")
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._users_table,
                            "Key": {"user_id": {"S": user_id}},
                            "UpdateExpression": "ADD active_jobs :job",
                            "ConditionExpression": "attribute_exists(user_id) AND ("
                            "attribute_not_exists(active_jobs) OR size(active_jobs) < :limit "
                            "OR contains(active_jobs, :job_id))",
                            "ExpressionAttributeValues": {
                                ":job": {"SS": [job_id]},
                                ":job_id": {"S": job_id},
                                ":limit": {"N": str(limit)},
                            },
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._jobs_table,
                            "Key": {"job_id": {"S": job_id}},
                            "ConditionExpression": "#s = :queued",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":queued": {"S": JobStatus.QUEUED.value}},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def release(self, user_id: str, job_id: str) -> bool:
        """Free the job's slot. True if this call freed it, False if it was not held (idempotent)."""
        try:
            self._users.update_item(
                Key={"user_id": user_id},
                UpdateExpression="DELETE active_jobs :job",
                ConditionExpression="contains(active_jobs, :job_id)",
                ExpressionAttributeValues={":job": {job_id}, ":job_id": job_id},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
