"""Workflow edge cases a review against real AWS semantics found (issue 11): each test executes
the real ASL in moto and fails on the defect it names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from lambdas.common import aws
from lambdas.common.models import JobStatus, Reservation
from tests.workflow.harness import COST, Workflow, lose_transaction_response


def _entered(flow: Workflow, job_id: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in flow.history(job_id) if "stateEnteredEventDetails" in e
    ]


# --- a notification whose output cannot be read ------------------------------------------------


def test_missing_output_fails_the_job_at_once(workflow: Workflow) -> None:
    """SageMaker says Completed but the output object is gone: no retries until the DLQ while the
    job holds the slot for the whole generate timeout (2700 s here); it fails now, uncharged."""
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    invocation = workflow.endpoint.wait_for_invocation(job.job_id)
    # Notify success without writing the output object.
    response = workflow.endpoint.notify(invocation, workflow.endpoint.success_message(invocation))
    assert response == {"batchItemFailures": []}  # nothing left to retry
    described = workflow.wait(job.job_id, timeout_s=15)
    assert described["status"] == "FAILED" and described["error"] == "GenerationFailed"
    failed = workflow.job(job.job_id)
    assert failed.status == JobStatus.FAILED and failed.reservation == Reservation.RELEASED
    assert workflow.credits("alice") == 5 and workflow.reserved("alice") == 0
    assert workflow.slots("alice") == set()


@contextmanager
def _s3_reads_fail(code: str, status: int) -> Iterator[list[str]]:
    """The callback's S3 client answers GetObject with `code`/`status` (botocore's own retries
    already spent) while the context is open."""
    s3 = aws.client("s3")
    failures: list[str] = []

    def get_object(**kwargs: Any) -> Any:
        failures.append(kwargs["Key"])
        raise ClientError(
            {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "GetObject",
        )

    s3.get_object = get_object
    try:
        yield failures
    finally:
        del s3.get_object


def test_a_transient_read_error_is_retried_and_the_song_completes(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    invocation = workflow.endpoint.wait_for_invocation(job.job_id)
    # A batch whose every record failed fails the invocation: SQS delivers it again.
    with _s3_reads_fail("SlowDown", 503) as failures, pytest.raises(BatchProcessingError):
        workflow.endpoint.succeed(job.job_id)
    assert failures
    assert workflow.job(job.job_id).status == JobStatus.PROCESSING
    assert workflow.slots("alice") == {job.job_id}

    redelivered = workflow.endpoint.notify(invocation, workflow.endpoint.success_message(invocation))
    assert redelivered == {"batchItemFailures": []}
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 5 - COST


def test_an_unreadable_output_is_permanent(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(job.job_id)
    with _s3_reads_fail("AccessDenied", 403):
        assert workflow.endpoint.succeed(job.job_id) == {"batchItemFailures": []}
    assert workflow.wait(job.job_id, timeout_s=15)["error"] == "GenerationFailed"
    assert workflow.credits("alice") == 5 and workflow.slots("alice") == set()


# --- a MarkProcessing transaction that committed but answered with an error --------------------


def _is_mark_processing(items: list[dict[str, Any]]) -> bool:
    return any("started_at" in op.get("Update", {}).get("UpdateExpression", "") for op in items)


def test_a_retried_mark_processing_that_had_committed_moves_on(workflow: Workflow) -> None:
    """The retry of a committed MarkProcessing finds the job `processing`: it must succeed again
    instead of sending the job back to AcquireSlot (a loop until the history limit)."""
    from moto.dynamodb.exceptions import DynamodbException

    def conflict() -> Exception:
        return DynamodbException("TransactionConflictException", "the response was lost")

    workflow.user("alice", credits=5)
    with lose_transaction_response(_is_mark_processing, conflict) as lost:
        job = workflow.submit("alice")
        workflow.endpoint.wait_for_invocation(job.job_id, timeout_s=30)
    assert lost == [True]
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    states = _entered(workflow, job.job_id)
    assert states.count("AcquireSlot") == 1 and states.count("MarkProcessing") == 1
    retried = [e for e in workflow.history(job.job_id) if e["type"] == "TaskFailed"]
    assert len(retried) == 1  # the lost response, retried in place
    assert len([i for i in workflow.endpoint.invocations if i.inference_id == job.job_id]) == 1
    assert workflow.credits("alice") == 5 - COST


# --- a Lambda service error after SageMaker accepted the invocation ---------------------------


@contextmanager
def _service_error_after_first_call(function_name: str) -> Iterator[list[str]]:
    """The function runs to completion once, but Lambda answers the invoke with ServiceException
    (Step Functions then retries the task with a new token)."""
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.exceptions import JsonRESTError

    errors: list[str] = []
    originals = {backend: backend.__dict__["invoke"] for backend in (LambdaBackend, LambdaSimpleBackend)}

    def wrap(routed: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(self: Any, name: str, *args: Any) -> Any:
            result = routed(self, name, *args)
            if function_name in name and not errors:
                errors.append(name)
                raise JsonRESTError("ServiceException", "Lambda was unable to return the function's result")
            return result

        return invoke

    for backend, routed in originals.items():
        backend.invoke = wrap(routed)
    try:
        yield errors
    finally:
        for backend, routed in originals.items():
            backend.invoke = routed


def test_a_lambda_error_after_the_invocation_starts_no_second_one(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    with _service_error_after_first_call(workflow.resources.function("start_inference")) as errors:
        job = workflow.submit("alice")
        workflow.endpoint.wait_for_invocation(job.job_id)
        _wait_until(lambda: _generate_attempts(workflow, job.job_id) == 2)  # the retry ran
    assert errors
    failed_attempts = [e for e in workflow.history(job.job_id) if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed_attempts] == ["Lambda.ServiceException"]

    workflow.endpoint.succeed(job.job_id)  # the one invocation completes the retried task
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    assert [i.inference_id for i in workflow.endpoint.invocations] == [job.job_id]
    assert workflow.credits("alice") == 5 - COST


def test_an_invocation_refused_for_good_fails_the_job_uncharged(workflow: Workflow) -> None:
    """SageMaker answering ValidationError (no such endpoint) queued nothing: the claim is
    withdrawn and the job fails without a retry."""
    workflow.endpoint.refusal = (400, "ValidationError", "Endpoint song-service-test-music not found.")
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")
    assert workflow.wait(job.job_id)["status"] == "FAILED"
    assert workflow.job(job.job_id).invocation_started_at is None
    assert workflow.credits("alice") == 5 and workflow.reserved("alice") == 0


def test_an_invocation_refused_for_now_is_retried_and_made_once(workflow: Workflow) -> None:
    """503 ServiceUnavailable after botocore's own retries: the claim is withdrawn, the Generate
    state retries the task, and the retry's invocation is the job's only one."""
    workflow.endpoint.refusal = (503, "ServiceUnavailable", "Service is unavailable")
    workflow.user("alice", credits=5)
    job = workflow.submit("alice")

    def refused() -> list[str]:
        return [
            e["taskFailedEventDetails"]["error"]
            for e in workflow.history(job.job_id)
            if e["type"] == "TaskFailed"
        ]

    _wait_until(lambda: refused() == ["InvocationRefused"], timeout_s=60)
    assert workflow.job(job.job_id).invocation_started_at is None  # withdrawn: the retry may invoke
    workflow.endpoint.refusal = None
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    assert refused() == ["InvocationRefused"]
    assert [i.inference_id for i in workflow.endpoint.invocations] == [job.job_id]
    assert workflow.credits("alice") == 5 - COST and workflow.reserved("alice") == 0


def _generate_attempts(flow: Workflow, job_id: str) -> int:
    """start_inference calls of the job's Generate state that failed or returned."""
    count = 0
    for event in flow.history(job_id):
        submitted = event.get("taskSubmittedEventDetails", {}).get("output", "")
        count += event["type"] == "TaskFailed" or '"invoked"' in submitted
    return count


def _wait_until(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached")
        time.sleep(0.05)
