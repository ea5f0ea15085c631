"""The async inference round trip: hand a job to the endpoint, turn its notification into the
Generate task's outcome."""

from __future__ import annotations

import json

from pydantic import ValidationError

from lambdas.common import aws, lifecycle
from lambdas.common.inference import (
    AsyncInferenceNotification,
    Manifest,
    build_request,
    parse_s3_uri,
    request_key,
)
from lambdas.common.models import JobStatus
from lambdas.common.observability import logger
from lambdas.common.settings import get_settings
from lambdas.common.workflow_store import WorkflowJobRepository

from . import tokens
from .errors import InferenceFailed, InvalidManifest, JobNotFound, JobNotRunnable
from .publish import delete_scratch

# SageMaker's default InvocationTimeoutSeconds is 900 s; a 4-minute song with 100 steps plus
# lyrics and cover can get close on a cold instance, so allow the maximum.
INVOCATION_TIMEOUT_S = 3600
MAX_REQUEST_TTL_S = 21600  # SageMaker's limit for RequestTTLSeconds


def start_inference(job_id: str, task_token: str) -> dict:
    """Write the request to S3, keep the token on the job, then call InvokeEndpointAsync.

    The token is stored first: a notification can only arrive after the invocation, so the
    callback always finds it. A retry overwrites the token with the new one.
    """
    settings = get_settings()
    jobs = WorkflowJobRepository()
    job = jobs.find_workflow_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} does not exist")
    if job.status != JobStatus.PROCESSING:
        raise JobNotRunnable(f"job {job_id} is {job.status.value}")

    bucket = settings.inference_bucket_name
    key = request_key(job_id)
    aws.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(build_request(job, bucket)).encode(),
        ContentType="application/json",
    )
    input_location = f"s3://{bucket}/{key}"
    if not jobs.save_task_token(job_id, task_token, input_location):
        raise JobNotRunnable(f"job {job_id} stopped processing")
    lifecycle.announce(job)  # MarkProcessing made it `processing`; a retry announces again

    response = aws.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=settings.endpoint_name,
        InputLocation=input_location,
        InferenceId=job_id,
        ContentType="application/json",
        Accept="application/json",
        RequestTTLSeconds=min(max(settings.inference_timeout_s, 60), MAX_REQUEST_TTL_S),
        InvocationTimeoutSeconds=INVOCATION_TIMEOUT_S,
    )
    logger.info(
        "inference requested",
        extra={"job_id": job_id, "output_location": response.get("OutputLocation")},
    )
    return {"input_location": input_location, "output_location": response.get("OutputLocation")}


def handle_notification(notification: AsyncInferenceNotification) -> str:
    """Complete the job's Generate task from a SageMaker notification. Returns what happened.

    Harmless on duplicates and late arrivals: an unknown job, a job that is not processing
    (finished, failed, timed out) or a token that is no longer waiting is logged and dropped.
    Errors worth a retry (S3, throttling) propagate so the SQS message is retried.
    """
    job_id = notification.inference_id
    job = WorkflowJobRepository().find_workflow_job(job_id)
    if job is None:
        logger.warning("notification for an unknown job", extra={"job_id": job_id})
        return "unknown_job"
    if job.status in (JobStatus.CANCELED, JobStatus.FAILED):
        # A late GPU result of a job that ended meanwhile: never published, never charged.
        removed = delete_scratch(job_id)
        logger.info(
            "late result discarded", extra={"job_id": job_id, "status": job.status, "removed": removed}
        )
        return "discarded"
    if job.status != JobStatus.PROCESSING or not job.task_token:
        logger.info("notification for a job not waiting", extra={"job_id": job_id, "status": job.status})
        return "not_waiting"

    if not notification.succeeded:
        reason = notification.failure_reason or "the endpoint reported a failure"
        sent = tokens.send_failure(job.task_token, InferenceFailed.__name__, reason)
        return "failed" if sent else "stale_token"

    try:
        manifest = _load_manifest(notification, job_id)
    except InvalidManifest as exc:
        sent = tokens.send_failure(job.task_token, InvalidManifest.__name__, str(exc))
        return "failed" if sent else "stale_token"
    sent = tokens.send_success(job.task_token, manifest.model_dump(mode="json"))
    return "succeeded" if sent else "stale_token"


def _load_manifest(notification: AsyncInferenceNotification, job_id: str) -> Manifest:
    location = notification.output_location
    if not location:
        raise InvalidManifest("the notification has no output location")
    try:
        bucket, key = parse_s3_uri(location)
    except ValueError as exc:
        raise InvalidManifest(str(exc)) from None
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        manifest = Manifest.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidManifest(f"the manifest is not valid: {exc.error_count()} errors") from None
    if manifest.job_id != job_id:
        raise InvalidManifest(f"the manifest is for job {manifest.job_id}")
    return manifest
