"""Repository additions for the workflow: the per-user slot set and the task-token writes."""

from __future__ import annotations

import pytest

from lambdas.common.models import Job, JobStatus, new_job_id
from lambdas.common.repositories import JobRepository, UserRepository
from lambdas.common.workflow_store import UserSlots, WorkflowJobRepository


def _job(user_id: str, created_at: str, status: JobStatus = JobStatus.QUEUED) -> Job:
    job = Job(
        job_id=new_job_id(),
        user_id=user_id,
        status=status,
        stage=status.value,
        request={"mode": "description", "description": "song"},
        created_at=created_at,
        updated_at=created_at,
    )
    return JobRepository().create(job)


@pytest.fixture
def alice(aws_env) -> str:
    UserRepository().get_or_create("alice", signup_credits=5)
    return "alice"


def test_acquire_is_bounded_and_idempotent(alice: str) -> None:
    slots = UserSlots()
    a, b, c = (_job(alice, f"2026-01-01T00:00:0{i}.000Z") for i in range(3))
    assert slots.acquire(alice, a.job_id, limit=2)
    assert slots.acquire(alice, a.job_id, limit=2)  # a retry: still one slot
    assert slots.acquire(alice, b.job_id, limit=2)
    assert not slots.acquire(alice, c.job_id, limit=2)
    assert slots.holders(alice) == {a.job_id, b.job_id}
    assert slots.acquire(alice, a.job_id, limit=2)  # holding at the limit is still "held"


def test_release_is_idempotent_and_never_frees_another_slot(alice: str) -> None:
    slots = UserSlots()
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
    JobRepository().mark_failed(job.job_id, "Cancelled", "stopped")
    assert not UserSlots().acquire(alice, job.job_id, limit=1)
    assert UserSlots().holders(alice) == set()


def test_unknown_user_gets_no_slot(aws_env) -> None:
    job = _job("ghost", "2026-01-01T00:00:00.000Z")
    assert not UserSlots().acquire("ghost", job.job_id, limit=1)


def test_slots_do_not_disturb_the_user_model(alice: str) -> None:
    UserSlots().acquire(alice, _job(alice, "2026-01-01T00:00:00.000Z").job_id, limit=1)
    assert UserRepository().find(alice).credits == 5


def test_queued_jobs_oldest_first_within_the_horizon(alice: str) -> None:
    old = _job(alice, "2026-01-01T00:00:00.000Z")
    first = _job(alice, "2026-01-02T00:00:00.000Z")
    _job(alice, "2026-01-02T00:00:01.000Z", JobStatus.PROCESSING)
    second = _job(alice, "2026-01-02T00:00:02.000Z")
    _job("bob", "2026-01-02T00:00:03.000Z")
    queued = WorkflowJobRepository().queued_jobs(alice, created_since="2026-01-01T12:00:00.000Z")
    assert [j.job_id for j in queued] == [first.job_id, second.job_id]
    assert old.job_id not in {j.job_id for j in queued}


def test_tokens_are_only_stored_in_the_right_state(alice: str) -> None:
    jobs = WorkflowJobRepository()
    job = _job(alice, "2026-01-01T00:00:00.000Z")
    assert jobs.save_task_token(job.job_id, "t1", "s3://b/k") is False  # still queued
    assert jobs.save_slot_token(job.job_id, "s1") is True
    stored = jobs.find_workflow_job(job.job_id)
    assert stored.slot_token == "s1" and stored.task_token is None
    assert JobRepository().get(job.job_id).status == JobStatus.QUEUED  # the API model still reads it
    jobs.mark_failed(job.job_id, "Cancelled", "x")
    assert jobs.save_slot_token(job.job_id, "s2") is False
