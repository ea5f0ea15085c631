"""The API's access to S3 (media) and Step Functions (workflow start); repositories cover DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator

from botocore.exceptions import ClientError

from lambdas.common import aws
from lambdas.common.models import Job

_DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per call


class MediaStore:
    """Presigned downloads and deletion of a job's objects in the media bucket."""

    def __init__(self, bucket: str, url_ttl_s: int) -> None:
        self._bucket = bucket
        self._ttl_s = url_ttl_s

    def presign(self, key: str) -> str:
        # Presigning is local signing, no network call; the URL carries its own expiry.
        return aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=self._ttl_s
        )

    def delete_prefix(self, prefix: str) -> int:
        """Delete every current object under `prefix`; returns how many.

        The bucket is versioned: deletes leave noncurrent versions that the bucket lifecycle purges
        after 30 days (the undo window in stacks/storage.py).
        """
        s3 = aws.client("s3")
        deleted = 0
        for batch in _batches(self._keys(prefix), _DELETE_BATCH):
            response = s3.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            if response.get("Errors"):
                raise RuntimeError(f"could not delete {len(response['Errors'])} media objects")
            deleted += len(batch)
        return deleted

    def _keys(self, prefix: str) -> Iterator[str]:
        paginator = aws.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            yield from (obj["Key"] for obj in page.get("Contents", []))


class Workflow:
    """Starts the song-generation state machine for a job."""

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
            input=json.dumps({"job_id": job.job_id, "user_id": job.user_id}),
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
            if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
