"""The jobs table: a song's row (`job_id`: the song's id, `song_id` in the API) and its status.

Where each status is set, one place each, every write conditional on the status before it:
- (none) -> queued: `CreditLedger.create_reserved` (the API), with the user's reservation.
- queued -> processing: the state machine itself (MarkProcessing in
  statemachines/song_generation.asl.json, a transaction with the check that the job holds one of its
  user's slots); what it writes is `MARK_PROCESSING` below (a test reads it from the ASL).
- processing -> processed: `CreditLedger.capture` (finalize), with the charge.
- queued|processing -> failed: `JobStore.mark_failed` (the workflow's failure path, the reaper) or
  `CreditLedger.fail_and_release` (the API, when no workflow could be started).
- queued|processing -> canceled: `JobStore.mark_canceled` (the API's cancel).
The step (`JobStep`) says where a processing job is: generating, then publishing (`set_step`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from ..clock import utc_now
from ..contract import JOBS_BY_STATUS, JOBS_BY_USER
from ..errors import JobStateConflict, NotFound
from ..models import UNFINISHED, Job, JobError, JobStatus, JobStep
from .dynamo import (
    CONDITION_FAILED,
    TableStore,
    conditional,
    from_dynamo,
    owned,
    query_all,
    set_clause,
    to_dynamo,
    unless,
)

# queued -> processing, as MarkProcessing writes it (from either: a retry of a committed write).
MARK_PROCESSING = {
    "from": (JobStatus.QUEUED, JobStatus.PROCESSING),
    "status": JobStatus.PROCESSING,
    "step": JobStep.GENERATING,
}
# The statuses of a job that has not ended (UNFINISHED), as condition values.
_ACTIVE = {f":{status.value}": status.value for status in sorted(UNFINISHED)}


class JobStore(TableStore):
    # --- reading ---------------------------------------------------------------------------

    def find(self, job_id: str) -> Job | None:
        """The job's row (a strongly consistent read), or None."""
        item = self._get({"job_id": job_id})
        return Job.model_validate(item) if item else None

    def get(self, job_id: str) -> Job:
        job = self.find(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def get_for_user(self, job_id: str, user_id: str) -> Job:
        """Another user's job is indistinguishable from a missing one."""
        return owned(self.find(job_id), user_id, "song")

    def list_for_user(
        self, user_id: str, limit: int, next_token: str | None = None
    ) -> tuple[list[Job], str | None]:
        """Newest first, paginated with an opaque token."""
        items, token = self._newest_for_user(JOBS_BY_USER, "job_id", user_id, limit, next_token)
        return [Job.model_validate(item) for item in items], token

    def ids_by_status(self, status: JobStatus, created_from: str, created_to: str, limit: int) -> list[str]:
        """Ids of jobs in `status` created in [created_from, created_to] (inclusive), oldest first.

        One Query of the by_status index (eventually consistent), at most `limit` small index
        items, so its cost stays bounded however long the queue is.
        """
        page = self._table.query(
            IndexName=JOBS_BY_STATUS.name,
            KeyConditionExpression=Key("status").eq(status.value)
            & Key("created_at").between(created_from, created_to),
            ProjectionExpression="job_id",
            Limit=limit,
        )
        return [str(item["job_id"]) for item in page.get("Items", [])]

    def recent_render_seconds(self, limit: int) -> list[float]:
        """processing -> processed seconds of the `limit` most recently created processed jobs."""
        page = self._table.query(
            IndexName=JOBS_BY_STATUS.name,
            KeyConditionExpression=Key("status").eq(JobStatus.PROCESSED.value),
            ProjectionExpression="started_at, finished_at",
            ScanIndexForward=False,
            Limit=limit,
        )
        seconds = []
        for item in page.get("Items", []):
            start, end = item.get("started_at"), item.get("finished_at")
            if start and end:
                seconds.append((_parse_time(end) - _parse_time(start)).total_seconds())
        return [s for s in seconds if s >= 0]

    def queued_jobs(self, user_id: str, created_since: str) -> list[Job]:
        """The user's queued jobs created at or after `created_since`, oldest first (submission order).

        Reads the by_user index, which is eventually consistent: callers re-read a row before
        acting on it. Jobs older than `created_since` cannot have a live execution any more.
        """
        items = query_all(
            self._table,
            IndexName=JOBS_BY_USER.name,
            KeyConditionExpression=Key("user_id").eq(user_id) & Key("created_at").gte(created_since),
            FilterExpression=Attr("status").eq(JobStatus.QUEUED.value),
            ScanIndexForward=True,
        )
        return [Job.model_validate(from_dynamo(item)) for item in items]

    def unfinished_with_persona(self, user_id: str, persona_id: str, created_since: str) -> list[str]:
        """Ids of the user's queued or processing songs made with the persona, created at or after
        `created_since` (older ones have no live execution). Reads the by_user index."""
        items = query_all(
            self._table,
            IndexName=JOBS_BY_USER.name,
            KeyConditionExpression=Key("user_id").eq(user_id) & Key("created_at").gte(created_since),
            FilterExpression=Attr("persona.persona_id").eq(persona_id)
            & Attr("status").is_in([s.value for s in sorted(UNFINISHED)]),
            ProjectionExpression="job_id",
        )
        return [str(item["job_id"]) for item in items]

    # --- creating and deleting ---------------------------------------------------------------

    def create(self, job: Job) -> Job:
        """A job row with no reservation (a job without one never runs: the workflow fails it)."""
        self._table.put_item(Item=item_of(job), ConditionExpression="attribute_not_exists(job_id)")
        return job

    def delete(self, job_id: str, user_id: str) -> None:
        deleted = conditional(
            lambda: self._table.delete_item(
                Key={"job_id": job_id},
                ConditionExpression="user_id = :uid",
                ExpressionAttributeValues={":uid": user_id},
            )
        )
        if not deleted:
            raise NotFound("song not found")

    # --- the job's life in the workflow -------------------------------------------------------

    def save_slot_token(self, job_id: str, token: str) -> bool:
        """Park the AcquireSlot token on a queued job; False when the job is no longer queued."""
        return self._set_if(job_id, {"slot_token": token}, JobStatus.QUEUED)

    def set_step(self, job_id: str, step: JobStep) -> bool:
        """False when the job is no longer processing (canceled meanwhile): nothing written."""
        return self._set_if(job_id, {"stage": step.value}, JobStatus.PROCESSING)

    def claim_invocation(self, job_id: str, token: str, input_location: str) -> str | None:
        """Store the Generate task's token on a processing job before SageMaker is called.

        Returns the claim (a timestamp) when this call is the job's first attempt, which must
        then call InvokeEndpointAsync; None when an earlier attempt already did (a retried task):
        only the token changes then, and the invocation already running completes it.
        Raises JobStateConflict when the job is not processing.
        """
        now = utc_now()
        response = unless(
            CONDITION_FAILED,
            lambda: self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET task_token = :token, inference_input = :input, stage = :step, "
                "invocation_started_at = if_not_exists(invocation_started_at, :now), updated_at = :now",
                ConditionExpression="#s = :processing",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":token": token,
                    ":input": input_location,
                    ":step": JobStep.GENERATING.value,
                    ":now": now,
                    ":processing": JobStatus.PROCESSING.value,
                },
                # The row as it was: whether an earlier attempt had claimed the invocation.
                ReturnValues="ALL_OLD",
            ),
        )
        if response is None:
            raise JobStateConflict(f"job {job_id} is not processing")
        return None if "invocation_started_at" in response.get("Attributes", {}) else now

    def withdraw_invocation(self, job_id: str, claim: str) -> None:
        """SageMaker refused the invocation (nothing runs): let a retried task invoke again."""
        self._remove_if_equal(job_id, "invocation_started_at", claim)

    def clear_task_token(self, job_id: str, token: str) -> None:
        """The Generate task was completed with `token`: later notifications find nothing waiting."""
        self._remove_if_equal(job_id, "task_token", token)

    def mark_failed(self, job_id: str, code: str, message: str) -> bool:
        """Fail a job unless it already finished. Returns False when it had already finished."""
        error = {"code": code, "message": message}
        return (
            self._end(job_id, JobStatus.FAILED, JobStep.FAILED, error, "attribute_exists(job_id)") is not None
        )

    def mark_canceled(self, job_id: str, user_id: str, error: JobError) -> Job | None:
        """The owner's queued or processing job becomes canceled; returns it, or None when the job
        was not active any more (finished or already canceled: the caller re-reads it).

        The status condition is what keeps a canceled job from being charged: the workflow's
        charge transaction requires `processing`, and every later step requires its own status.
        """
        ended = self._end(
            job_id, JobStatus.CANCELED, JobStep.CANCELED, error.model_dump(), "user_id = :uid", user_id
        )
        return Job.model_validate(from_dynamo(ended["Attributes"])) if ended else None

    def _end(
        self,
        job_id: str,
        status: JobStatus,
        step: JobStep,
        error: dict[str, str],
        condition: str,
        user_id: str = "",
    ) -> dict[str, Any] | None:
        """An unfinished job ends with `status` and `error` (if `condition` holds too): the update's
        answer with the row as it is now, or None when the job had ended already."""
        values = {":status": status.value, ":step": step.value, ":error": error, ":now": utc_now(), **_ACTIVE}
        return unless(
            CONDITION_FAILED,
            lambda: self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="SET #s = :status, stage = :step, #e = :error, updated_at = :now",
                ConditionExpression=f"{condition} AND #s IN (:queued, :processing)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=values | ({":uid": user_id} if user_id else {}),
                ReturnValues="ALL_NEW",
            ),
        )

    # --- helpers --------------------------------------------------------------------------------

    def _set_if(self, job_id: str, values: dict[str, Any], required: JobStatus) -> bool:
        """SET `values` if the job is in status `required`; False (nothing written) otherwise."""
        assignments, names, attr_values = set_clause(values)
        return conditional(
            lambda: self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=f"SET {assignments}, updated_at = :now",
                ConditionExpression="#s = :required",
                ExpressionAttributeNames=names | {"#s": "status"},
                ExpressionAttributeValues=attr_values | {":now": utc_now(), ":required": required.value},
            )
        )

    def _remove_if_equal(self, job_id: str, attribute: str, value: str) -> None:
        conditional(
            lambda: self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression="REMOVE #a",
                ConditionExpression="#a = :value",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":value": value},
            )
        )


def item_of(job: Job) -> dict[str, Any]:
    """The job as its row stores it."""
    return to_dynamo(job.model_dump(mode="json", by_alias=True, exclude_none=True))


def _parse_time(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
