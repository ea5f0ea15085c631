"""How a job ends: release its slot, record its metrics, and on failure a user-readable error.

Called by the workflow's last states and by the reaper; every step is idempotent, so a retried
call or the reaper running after the workflow's own cleanup changes nothing and counts nothing
twice (metrics are recorded by the call that actually changed the job or freed the slot).
"""

from __future__ import annotations

from typing import Any

from lambdas.common import business_metrics as metrics
from lambdas.common import lifecycle
from lambdas.common.models import JobError, JobStatus
from lambdas.common.observability import logger
from lambdas.common.repositories import UserRepository
from lambdas.common.settings import get_settings
from lambdas.common.workflow_store import UserSlots, WorkflowJob, WorkflowJobRepository

from .publish import delete_job_media
from .slots import wake_next

# The closed set of error codes users (and the SongsFailed metric) see.
INSUFFICIENT_CREDITS = JobError(
    code="InsufficientCredits", message="You do not have enough credits for this song. Nothing was charged."
)
GENERATION_FAILED = JobError(
    code="GenerationFailed", message="The song could not be generated. Nothing was charged; please try again."
)
GENERATION_TIMEOUT = JobError(
    code="GenerationTimeout",
    message="The song took too long to generate. Nothing was charged; please try again.",
)
CANCELLED = JobError(
    code="Cancelled", message="The song was cancelled before it was generated. Nothing was charged."
)
INTERNAL_ERROR = JobError(
    code="InternalError", message="Something went wrong while generating the song. Nothing was charged."
)

_BY_ERROR_NAME = {
    "InsufficientCredits": INSUFFICIENT_CREDITS,
    "InferenceFailed": GENERATION_FAILED,
    "InvalidManifest": GENERATION_FAILED,
    "States.Timeout": GENERATION_TIMEOUT,
    "JobNotFound": CANCELLED,
    "JobNotRunnable": CANCELLED,
    "DynamoDB.ConditionalCheckFailedException": CANCELLED,  # MarkProcessing: no longer queued
    "Execution.ABORTED": CANCELLED,
    "Execution.TIMED_OUT": GENERATION_TIMEOUT,
}


def classify(error: dict[str, Any] | None, user_id: str) -> JobError:
    """A Step Functions error ({Error, Cause}) -> the error the user sees. Causes stay in the logs."""
    name = str((error or {}).get("Error", ""))
    if name in _BY_ERROR_NAME:
        return _BY_ERROR_NAME[name]
    if name.startswith("DynamoDb.Transaction"):
        # ChargeAndComplete refused and the job was not charged: most likely the credits ran out
        # while the song was generated.
        user = UserRepository().find(user_id)
        if user is not None and user.credits < get_settings().credits_per_song:
            return INSUFFICIENT_CREDITS
    return INTERNAL_ERROR


def complete(job_id: str, user_id: str) -> dict[str, Any]:
    """Success path (after ChargeAndComplete): free the slot, start the next job, record metrics.

    The event goes out while the job still holds its slot: a retry after a failed PutEvents
    announces again, a retry after the slot was freed does not.
    """
    slots = UserSlots()
    job = WorkflowJobRepository().find_workflow_job(job_id)
    if job is not None and job.status == JobStatus.PROCESSED and job_id in slots.holders(user_id):
        lifecycle.announce(job)
    released = slots.release(user_id, job_id)
    woken = wake_next(user_id)
    if released and job is not None and job.status == JobStatus.PROCESSED:
        _record_processed(job)
    return {"released": released, "woken": woken}


def fail(job_id: str, user_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """Failure path: mark failed (never a processed job), remove media, free the slot, record it."""
    failure = classify(error, user_id)
    logger.info("job failed", extra={"job_id": job_id, "code": failure.code, "error": error})
    jobs = WorkflowJobRepository()
    changed = jobs.mark_failed(job_id, failure.code, failure.message)
    job = jobs.find_workflow_job(job_id)
    if job is None or job.status != JobStatus.PROCESSED:
        _remove_media(user_id, job_id)
    UserSlots().release(user_id, job_id)
    wake_next(user_id)
    if changed and job is not None:
        lifecycle.announce(job)
    if changed:
        metrics.record_failed(
            error_code=failure.code,
            queue_wait_s=metrics.seconds_between(job.created_at, job.started_at) if job else None,
        )
    stored = job.error if job is not None and job.error is not None else failure
    return {"code": stored.code, "message": stored.message, "changed": changed}


def reap(job_id: str, user_id: str, execution_status: str) -> dict[str, Any]:
    """An execution ended ABORTED, TIMED_OUT or FAILED: clean up whatever it could not."""
    return fail(job_id, user_id, {"Error": f"Execution.{execution_status}"})


def _remove_media(user_id: str, job_id: str) -> None:
    try:
        delete_job_media(user_id, job_id)
    except Exception:  # best effort: the failure itself is already recorded
        logger.exception("media cleanup failed", extra={"job_id": job_id})


def _record_processed(job: WorkflowJob) -> None:
    result = job.result
    metrics.record_processed(
        mode=str(job.request.get("mode", "unknown")),
        credits=job.charged_credits or get_settings().credits_per_song,
        timings=result.timings if result else {},
        queue_wait_s=metrics.seconds_between(job.created_at, job.started_at),
        end_to_end_s=metrics.seconds_between(job.created_at, job.finished_at),
    )
