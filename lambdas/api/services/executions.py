"""The song's workflow execution: started when the song is requested, stopped when it is canceled."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from lambdas.common import aws
from lambdas.common.models import TRANSCRIBE_MODE, Job
from lambdas.common.store.dynamo import error_code
from lambdas.common.transcription import plan_for_source


def execution_input(job: Job) -> dict[str, Any]:
    """`{job_id, user_id}`; a `transcribe` song adds what the Transcribe task reads (its sources,
    resolved at submission), which also routes it past the GPU."""
    body: dict[str, Any] = {"job_id": job.job_id, "user_id": job.user_id}
    if job.request.get("mode") == TRANSCRIBE_MODE and job.source is not None:
        body["transcription"] = plan_for_source(job.source)
    return body


class Executions:
    """Starts and stops the song-generation state machine's execution of a job."""

    def __init__(self, state_machine_arn: str) -> None:
        self._arn = state_machine_arn

    def execution_arn(self, job_id: str) -> str:
        """The ARN the job's execution gets: fixed by the state machine ARN and the name (job id).

        Known before starting, so the job row is written once with it instead of updated after.
        """
        prefix, _, name = self._arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{name}:{job_id}"

    def start(self, job: Job) -> str:
        # The execution is named after the job: a retried StartExecution (same name, same input)
        # returns the running execution instead of starting a second one for the same job.
        response = aws.client("stepfunctions").start_execution(
            stateMachineArn=self._arn,
            name=job.job_id,
            input=json.dumps(execution_input(job)),
        )
        return response["executionArn"]

    def stop(self, job: Job, cause: str) -> None:
        """StopExecution of the job's execution; the ABORTED execution then goes to the reaper,
        which frees the user's slot and the reservation and removes the job's scratch media.

        Repeating it is harmless: stopping an execution that already ended changes nothing.
        """
        try:
            aws.client("stepfunctions").stop_execution(
                executionArn=job.execution_arn or self.execution_arn(job.job_id),
                error="Canceled",
                cause=cause,
            )
        except ClientError as exc:
            # No execution behind the job (its start failed): nothing to stop.
            if error_code(exc) != "ExecutionDoesNotExist":
                raise
