"""A user's running jobs: the string set `active_jobs` on the user row (at most N at once).

ADD and DELETE on a set are idempotent, unlike a counter: a retried acquire or release cannot leak
or double-free a slot. The queue that hands slots out is lambdas/workflow/slots.py.
"""

from __future__ import annotations

from .. import aws
from ..models import JobStatus
from .dynamo import conditional, transact

SLOTS = "active_jobs"


class SlotStore:
    def __init__(self, users_table: str, jobs_table: str) -> None:
        self._users_table_name = users_table
        self._jobs_table_name = jobs_table
        self._users = aws.table(users_table)

    def holders(self, user_id: str) -> set[str]:
        item = self._users.get_item(
            Key={"user_id": user_id}, ProjectionExpression=SLOTS, ConsistentRead=True
        ).get("Item")
        return set(item.get(SLOTS, set())) if item else set()

    def acquire(self, user_id: str, job_id: str, limit: int) -> bool:
        """Take a slot for a queued job if fewer than `limit` are held. True if held afterwards.

        The check that the job is still queued runs in the same transaction, so a job that the
        reaper failed meanwhile can never be handed a slot after its release.
        """
        cancelled = transact(
            [
                {
                    "Update": {
                        "TableName": self._users_table_name,
                        "Key": {"user_id": {"S": user_id}},
                        "UpdateExpression": f"ADD {SLOTS} :job",
                        "ConditionExpression": "attribute_exists(user_id) AND ("
                        f"attribute_not_exists({SLOTS}) OR size({SLOTS}) < :limit "
                        f"OR contains({SLOTS}, :job_id))",
                        "ExpressionAttributeValues": {
                            ":job": {"SS": [job_id]},
                            ":job_id": {"S": job_id},
                            ":limit": {"N": str(limit)},
                        },
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": self._jobs_table_name,
                        "Key": {"job_id": {"S": job_id}},
                        "ConditionExpression": "#s = :queued",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":queued": {"S": JobStatus.QUEUED.value}},
                    }
                },
            ]
        )
        return cancelled is None

    def release(self, user_id: str, job_id: str) -> bool:
        """Free the job's slot. True if this call freed it, False if it was not held (idempotent)."""
        return conditional(
            lambda: self._users.update_item(
                Key={"user_id": user_id},
                UpdateExpression=f"DELETE {SLOTS} :job",
                ConditionExpression=f"contains({SLOTS}, :job_id)",
                ExpressionAttributeValues={":job": {job_id}, ":job_id": job_id},
            )
        )
