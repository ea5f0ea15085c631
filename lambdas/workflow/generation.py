"""The async inference round trip: hand a job to the endpoint (`Generation`), turn its notification
into the Generate task's outcome (`Notifications`)."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError
from pydantic import ValidationError

from lambdas.common import aws
from lambdas.common.inference import AsyncInferenceNotification, Manifest, build_request, parse_s3_uri
from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.models import JobStatus
from lambdas.common.observability import logger
from lambdas.common.store.dynamo import error_code
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import Bucket, ScratchBucket

from . import tokens
from .errors import (
    InferenceFailed,
    InvalidManifest,
    InvocationRefused,
    JobNotFound,
    JobNotRunnable,
    TokenNotCurrent,
)

# SageMaker's default InvocationTimeoutSeconds is 900 s; a 4-minute song with 100 steps plus
# lyrics and cover can get close on a cold instance, so allow the maximum.
INVOCATION_TIMEOUT_S = 3600
MAX_REQUEST_TTL_S = 21600  # SageMaker's limit for RequestTTLSeconds
# S3 error codes worth another delivery even though their HTTP status is below 500.
TRANSIENT_S3_CODES = frozenset({"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException"})


@dataclass(frozen=True)
class Generation:
    """The Generate task: the job's request to the endpoint, at most one invocation per job."""

    jobs: JobStore
    scratch: ScratchBucket
    events: LifecycleEvents
    endpoint_name: str
    inference_timeout_s: int

    def start_inference(self, job_id: str, task_token: str) -> dict:
        """Write the request to S3, keep the token on the job, then call InvokeEndpointAsync once.

        The token is stored first: a notification can only arrive after the invocation, so the
        callback always finds it. A retried task (e.g. a Lambda service error after SageMaker had
        accepted the invocation) only replaces the token: the job's first attempt recorded its
        invocation on the row, and the invocation already running completes the new token.
        """
        job = self.jobs.find(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} does not exist")
        if job.status != JobStatus.PROCESSING:
            raise JobNotRunnable(f"job {job_id} is {job.status.value}")
        input_location = self.scratch.location(job_id)
        if job.invocation_started_at is None:
            self.scratch.put_request(job_id, build_request(job, self.scratch.name))
        claim = self.jobs.claim_invocation(job_id, task_token, input_location)
        if claim is None:
            logger.info("inference already requested; waiting for it", extra={"job_id": job_id})
            return {"input_location": input_location, "invoked": False}
        try:
            response = aws.client("sagemaker-runtime").invoke_endpoint_async(
                EndpointName=self.endpoint_name,
                InputLocation=input_location,
                InferenceId=job_id,
                ContentType="application/json",
                Accept="application/json",
                RequestTTLSeconds=min(max(self.inference_timeout_s, 60), MAX_REQUEST_TTL_S),
                InvocationTimeoutSeconds=INVOCATION_TIMEOUT_S,
            )
        except ClientError as exc:
            # SageMaker answered with an error: nothing was queued, so a retry may invoke. (A network
            # error leaves the claim: the request may have been accepted, and one invocation at most.)
            self.jobs.withdraw_invocation(job_id, claim)
            if is_transient(exc):  # InternalFailure, ServiceUnavailable, throttling: not now
                raise InvocationRefused(f"InvokeEndpointAsync: {error_code(exc)}") from exc
            raise  # a refusal for good (ValidationError: no such endpoint, ...) fails the job
        logger.info(
            "inference requested", extra={"job_id": job_id, "output_location": response.get("OutputLocation")}
        )
        try:
            self.events.announce(job)  # processing; this call owned the job's one invocation
        except Exception:
            # A retry would not invoke again (the claim is taken), so a failed event must not fail
            # the task: the job matters more than its notification.
            logger.exception("song.processing event not sent", extra={"job_id": job_id})
        return {
            "input_location": input_location,
            "invoked": True,
            "output_location": response.get("OutputLocation"),
        }


@dataclass(frozen=True)
class Notifications:
    """The callback: SageMaker's notifications complete the waiting Generate tasks."""

    jobs: JobStore
    scratch: ScratchBucket

    def handle(self, notification: AsyncInferenceNotification) -> str:
        """Complete the job's Generate task from a SageMaker notification. Returns what happened.

        Harmless on duplicates and late arrivals: an unknown job, a job that is not processing
        (finished, failed, timed out) or a token that is no longer waiting is logged and dropped.
        An output that cannot be read for good (missing, access denied, not a manifest) fails the
        task at once. Errors worth a retry (S3 throttling or 5xx, a token being replaced by a
        retried Generate task) propagate so the SQS message is retried.
        """
        job_id = notification.inference_id
        job = self.jobs.find(job_id)
        if job is None:
            logger.warning("notification for an unknown job", extra={"job_id": job_id})
            return "unknown_job"
        if job.status in (JobStatus.CANCELED, JobStatus.FAILED):
            # A late GPU result of a job that ended meanwhile: never published, never charged.
            removed = self.scratch.delete_job_media(job_id)
            logger.info(
                "late result discarded", extra={"job_id": job_id, "status": job.status, "removed": removed}
            )
            if job.task_token:
                # Generate may still be waiting (e.g. the cancel's StopExecution failed): end it now
                # so HandleFailure frees the slot and the reservation instead of the inference timeout.
                self._complete(
                    job_id, job.task_token, (JobNotRunnable.__name__, f"job {job_id} is {job.status}")
                )
            return "discarded"
        if job.status != JobStatus.PROCESSING or not job.task_token:
            logger.info("notification for a job not waiting", extra={"job_id": job_id, "status": job.status})
            return "not_waiting"
        if not notification.succeeded:
            outcome: dict | tuple[str, str] = (
                InferenceFailed.__name__,
                notification.failure_reason or "the endpoint reported a failure",
            )
        else:
            try:
                outcome = _load_manifest(notification, job_id).model_dump(mode="json")
            except InvalidManifest as exc:
                outcome = (InvalidManifest.__name__, str(exc))
        return self._complete(job_id, job.task_token, outcome)

    def _complete(self, job_id: str, token: str, outcome: dict | tuple[str, str]) -> str:
        """Send the outcome to the job's current token; follow it once if a retried task replaced it."""
        for _ in range(2):
            if isinstance(outcome, tuple):
                sent = tokens.send_failure(token, *outcome)
            else:
                sent = tokens.send_success(token, outcome)
            if sent:
                self.jobs.clear_task_token(job_id, token)
                return "failed" if isinstance(outcome, tuple) else "succeeded"
            job = self.jobs.find(job_id)
            if job is None or job.status != JobStatus.PROCESSING or not job.task_token:
                return "stale_token"
            if job.task_token == token:
                # The Generate task is being retried and has not stored its new token yet.
                raise TokenNotCurrent(f"the task token of job {job_id} is being replaced")
            token = job.task_token
        return "stale_token"


def _load_manifest(notification: AsyncInferenceNotification, job_id: str) -> Manifest:
    location = notification.output_location
    if not location:
        raise InvalidManifest("the notification has no output location")
    try:
        bucket, key = parse_s3_uri(location)
    except ValueError as exc:
        raise InvalidManifest(str(exc)) from None
    body = _read_output(bucket, key)
    try:
        manifest = Manifest.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidManifest(f"the manifest is not valid: {exc.error_count()} errors") from None
    if manifest.job_id != job_id:
        raise InvalidManifest(f"the manifest is for job {manifest.job_id}")
    return manifest


def _read_output(bucket: str, key: str) -> bytes:
    """The output object's bytes. A 4xx answer (no such key or bucket, access denied, a KMS key
    that refuses) will not change on a retry: the output is lost, InvalidManifest. Throttling and
    5xx propagate (botocore already retried them) so SQS delivers the message again."""
    try:
        return Bucket(bucket).read(key)
    except ClientError as exc:
        if is_transient(exc):
            raise
        raise InvalidManifest(
            f"the output s3://{bucket}/{key} cannot be read ({error_code(exc) or 'unknown'})"
        ) from None


def is_transient(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
    return status >= 500 or status == 429 or error_code(exc) in TRANSIENT_S3_CODES
