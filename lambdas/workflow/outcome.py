"""How a job ends: on success its reservation is captured with the `processed` update; otherwise
the job gets a user-readable error and its reservation is released. Either way its slot is freed
and handed on, and its metrics are recorded.

Called by the workflow's last states and by the reaper; every step is idempotent, so a retried
call or the reaper running after the workflow's own cleanup changes nothing and counts nothing
twice (metrics are recorded by the call that captured or released the job's price).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.common import media_keys
from lambdas.common.business_metrics import BusinessMetrics, seconds_between
from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.models import Job, JobError, JobResult, JobStatus, Reservation
from lambdas.common.observability import logger
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.objects import MediaBucket, ScratchBucket, UploadsBucket
from lambdas.common.store.uploads import UploadStore, sync_retention_tag

from .slots import UserQueue

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
# Audio to MIDI (the transcriber's errors: lambda_images/transcribe/transcriber/errors.py).
AUDIO_REJECTED = JobError(
    code="AudioRejected",
    message="The audio could not be transcribed (it cannot be decoded or is too long). Nothing was charged.",
)
SOURCE_MISSING = JobError(
    code="SourceMissing",
    message="The source track was deleted before it was transcribed. Nothing was charged.",
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
    "JobStateConflict": CANCELLED,  # e.g. canceled while the song was published
    "Execution.ABORTED": CANCELLED,
    "Execution.TIMED_OUT": GENERATION_TIMEOUT,
    "AudioRejected": AUDIO_REJECTED,
    "SourceMissing": SOURCE_MISSING,
}


def classify(error: dict[str, Any] | None) -> JobError:
    """A Step Functions error ({Error, Cause}) -> the error the user sees. Causes stay in the logs."""
    return _BY_ERROR_NAME.get(str((error or {}).get("Error", "")), INTERNAL_ERROR)


@dataclass(frozen=True)
class Outcomes:
    """ChargeAndComplete (`complete`), HandleFailure (`fail`) and the reaper (`reap`).

    `uploads` (the uploads table and bucket): a processed song keeps the upload it was made from;
    only the finalize task, which completes songs, is given them.
    """

    ledger: CreditLedger
    queue: UserQueue
    media: MediaBucket
    scratch: ScratchBucket
    events: LifecycleEvents
    metrics: BusinessMetrics
    uploads: tuple[UploadStore, UploadsBucket] | None = None

    @property
    def jobs(self) -> JobStore:
        return self.ledger.jobs

    def complete(self, job_id: str, user_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """Success path (ChargeAndComplete): capture the reservation with the `processed` update,
        announce it, free the slot, start the next job, record metrics. A retry charges nothing twice.

        The event goes out while the job still holds its slot: a retry after a failed PutEvents
        announces again, a retry after the slot was freed does not.
        """
        charged = self.ledger.capture(job_id, JobResult.model_validate(result))
        job = self.jobs.get(job_id)
        if charged:  # now: only this call knows it charged, a retry after a failure below does not
            self._record_processed(job)
        if job.status == JobStatus.PROCESSED:
            self._keep_source_upload(job)
        if job.status == JobStatus.PROCESSED and job_id in self.queue.slots.holders(user_id):
            self.events.announce(job)
        released, woken = self.queue.release(user_id, job_id)
        return {"charged": charged, "released": released, "woken": woken}

    def fail(self, job_id: str, user_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
        """Failure path: mark failed (never a processed or canceled job), release the reservation,
        remove media, free the slot, record it."""
        failure = classify(error)
        logger.info("job failed", extra={"job_id": job_id, "code": failure.code, "error": error})
        changed = self.jobs.mark_failed(job_id, failure.code, failure.message)
        job = self.jobs.find(job_id)
        # Decided from the row, not from mark_failed's answer, which a retry no longer gets: a job
        # failed with its price still held has not been announced and counted yet (both happen
        # before the release below). A job without a reservation only has `changed` to go by.
        held = job is not None and job.reservation == Reservation.HELD
        due = job is not None and job.status == JobStatus.FAILED and (changed or held)
        if due and job is not None:
            self.events.announce(job)  # may raise (EventNotSent): the retry finds the price held
        released = self.ledger.release_reservation(job_id)
        if due and job is not None and (released or not held):
            self.metrics.song_failed(
                error_code=failure.code, queue_wait_s=seconds_between(job.created_at, job.started_at)
            )
        if job is None or job.status != JobStatus.PROCESSED:
            self._remove_media(user_id, job_id)
        self.queue.release(user_id, job_id)
        stored = job.error if job is not None and job.error is not None else failure
        return {"code": stored.code, "message": stored.message, "changed": changed, "released": released}

    def reap(self, job_id: str, user_id: str, execution_status: str) -> dict[str, Any]:
        """An execution ended ABORTED, TIMED_OUT or FAILED: clean up whatever it could not."""
        return self.fail(job_id, user_id, {"Error": f"Execution.{execution_status}"})

    def _keep_source_upload(self, job: Job) -> None:
        """A processed song keeps the upload it was made from (no expiry until the song is deleted).
        Only here: a song canceled or failed leaves its upload to expire. Idempotent."""
        if job.source is None or not job.source.upload_id:
            return
        if self.uploads is None:
            raise RuntimeError("this function completes songs without the uploads table")
        uploads, objects = self.uploads
        if uploads.keep_for_song(job.source.upload_id, job.job_id):
            sync_retention_tag(uploads, objects, job.source.upload_id)

    def _remove_media(self, user_id: str, job_id: str) -> None:
        """Whatever a failed job left: published copies and scratch."""
        try:
            self.media.delete_prefix(media_keys.job_prefix(user_id, job_id))
            self.scratch.delete_job_media(job_id)
        except Exception:  # best effort: the failure itself is already recorded
            logger.exception("media cleanup failed", extra={"job_id": job_id})

    def _record_processed(self, job: Job) -> None:
        result = job.result
        self.metrics.song_processed(
            mode=str(job.request.get("mode", "unknown")),
            credits=job.price_credits or 0,
            timings=result.timings if result else {},
            queue_wait_s=seconds_between(job.created_at, job.started_at),
            end_to_end_s=seconds_between(job.created_at, job.finished_at),
        )
