"""The workflow side of the data layer: the per-user slot set and the task-token writes."""

from __future__ import annotations

import os

import boto3
import pytest

from lambdas.common.errors import JobStateConflict
from lambdas.common.models import Job, JobStatus
from tests import factories


def _job(user_id: str, created_at: str, status: JobStatus = JobStatus.QUEUED) -> Job:
    request = {"mode": "description", "description": "song"}
    return factories.put_job(user_id, created_at=created_at, status=status, request=request)


@pytest.fixture
def alice(aws_env) -> str:
    factories.users().get_or_create("alice", signup_credits=5)
    return "alice"


def test_acquire_is_bounded_and_idempotent(alice: str) -> None:
    slots = factories.slots()
    a, b, c = (_job(alice, f"2026-01-01T00:00:0{i}.000Z") for i in range(3))
    assert slots.acquire(alice, a.job_id, limit=2)
    assert slots.acquire(alice, a.job_id, limit=2)  # a retry: still one slot
    assert slots.acquire(alice, b.job_id, limit=2)
    assert not slots.acquire(alice, c.job_id, limit=2)
    assert slots.holders(alice) == {a.job_id, b.job_id}
    assert slots.acquire(alice, a.job_id, limit=2)  # holding at the limit is still "held"


def test_release_is_idempotent_and_never_frees_another_slot(alice: str) -> None:
    slots = factories.slots()
    a, b = _job(alice, "2026-01-01T00:00:00.000Z"), _job(alice, "2026-01-01T00:00:01.000Z")
    slots.acquire(alice, a.job_id, limit=2)
    slots.acquire(alice, b.job_id, limit=2)
    assert slots.release(alice, a.job_id) is True
    assert slots.release(alice, a.job_id) is False
    assert slots.holders(alice) == {b.job_id}
    assert slots.release(alice, b.job_id) is True
    assert slots.holders(alice) == set()
    assert slots.release(alice, b.job_id) is False


def test_a_job_that_is_no_longer_queued_gets_no_slot(alice: str) -> None:
    job = _job(alice, "2026-01-01T00:00:00.000Z")
    factories.jobs().mark_failed(job.job_id, "Cancelled", "stopped")
    assert not factories.slots().acquire(alice, job.job_id, limit=1)
    assert factories.slots().holders(alice) == set()


def test_unknown_user_gets_no_slot(aws_env) -> None:
    job = _job("ghost", "2026-01-01T00:00:00.000Z")
    assert not factories.slots().acquire("ghost", job.job_id, limit=1)


def test_slots_do_not_disturb_the_user_model(alice: str) -> None:
    factories.slots().acquire(alice, _job(alice, "2026-01-01T00:00:00.000Z").job_id, limit=1)
    assert factories.users().find(alice).credits == 5


def test_queued_jobs_oldest_first_within_the_horizon(alice: str) -> None:
    old = _job(alice, "2026-01-01T00:00:00.000Z")
    first = _job(alice, "2026-01-02T00:00:00.000Z")
    _job(alice, "2026-01-02T00:00:01.000Z", JobStatus.PROCESSING)
    second = _job(alice, "2026-01-02T00:00:02.000Z")
    _job("bob", "2026-01-02T00:00:03.000Z")
    queued = factories.jobs().queued_jobs(alice, created_since="2026-01-01T12:00:00.000Z")
    assert [j.job_id for j in queued] == [first.job_id, second.job_id]
    assert old.job_id not in {j.job_id for j in queued}


def test_tokens_are_only_stored_in_the_right_state(alice: str) -> None:
    jobs = factories.jobs()
    job = _job(alice, "2026-01-01T00:00:00.000Z")
    with pytest.raises(JobStateConflict):
        jobs.claim_invocation(job.job_id, "t1", "s3://b/k")  # still queued
    assert jobs.save_slot_token(job.job_id, "s1") is True
    stored = jobs.find(job.job_id)
    assert stored.slot_token == "s1" and stored.task_token is None
    assert factories.jobs().get(job.job_id).status == JobStatus.QUEUED  # the API model still reads it
    jobs.mark_failed(job.job_id, "Cancelled", "x")
    assert jobs.save_slot_token(job.job_id, "s2") is False


def _processing(user_id: str, price: int | None = None) -> Job:
    job = _job(user_id, "2026-01-01T00:00:00.000Z")
    if price is not None:
        factories.jobs().delete(job.job_id, user_id)
        job = factories.ledger().create_reserved(job.model_copy(update={"price_credits": price}), 10)
    boto3.resource("dynamodb").Table(os.environ["JOBS_TABLE_NAME"]).update_item(
        Key={"job_id": job.job_id},
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": "processing"},
    )
    return job


def test_an_invocation_is_claimed_once_and_a_withdrawn_claim_frees_it(alice: str) -> None:
    jobs = factories.jobs()
    job = _processing(alice)
    claim = jobs.claim_invocation(job.job_id, "t1", "s3://b/k")
    assert claim is not None
    assert jobs.claim_invocation(job.job_id, "t2", "s3://b/k") is None  # a retry: token only
    stored = jobs.get(job.job_id)
    assert stored.task_token == "t2" and stored.invocation_started_at == claim
    jobs.withdraw_invocation(job.job_id, claim)
    assert jobs.claim_invocation(job.job_id, "t3", "s3://b/k") is not None


def test_a_token_is_cleared_only_if_it_is_still_the_current_one(alice: str) -> None:
    jobs = factories.jobs()
    job = _processing(alice)
    jobs.claim_invocation(job.job_id, "t1", "s3://b/k")
    jobs.clear_task_token(job.job_id, "old")
    assert jobs.get(job.job_id).task_token == "t1"
    jobs.clear_task_token(job.job_id, "t1")
    assert jobs.get(job.job_id).task_token is None
