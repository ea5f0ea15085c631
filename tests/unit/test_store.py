"""The jobs and users tables (lambdas/common/store/jobs.py, users.py)."""

from __future__ import annotations

import pytest

from lambdas.common.errors import InvalidRequest, NotFound
from lambdas.common.models import Job, JobStatus, JobStep
from lambdas.common.store.jobs import item_of
from tests import factories


def _job(user_id: str, created_at: str | None = None) -> Job:
    request = {"mode": "description", "description": "a calm lofi song", "guidance_scale": 15.0}
    return factories.new_job(user_id, created_at=created_at, request=request)


def test_job_round_trip_keeps_floats(aws_env) -> None:
    jobs = factories.jobs()
    job = jobs.create(_job("alice"))
    assert jobs.get(job.job_id) == job


def test_the_step_is_stored_as_the_contracts_stage_attribute(aws_env) -> None:
    # DESIGN.md's jobs table and the API call the job's step `stage`: the row keeps that name.
    jobs = factories.jobs()
    job = jobs.create(_job("alice"))
    item = item_of(job)
    assert item["stage"] == JobStep.QUEUED.value and "step" not in item
    jobs.set_step(job.job_id, JobStep.GENERATING)  # not processing: nothing written
    assert jobs.get(job.job_id).step == JobStep.QUEUED
    row = {**job.model_dump(by_alias=True), "stage": "publishing"}
    assert Job.model_validate(row).step == JobStep.PUBLISHING


def test_other_users_job_is_not_found(aws_env) -> None:
    jobs = factories.jobs()
    job = jobs.create(_job("alice"))
    with pytest.raises(NotFound):
        jobs.get_for_user(job.job_id, "mallory")
    with pytest.raises(NotFound):
        jobs.delete(job.job_id, "mallory")
    assert jobs.find(job.job_id) is not None


def test_list_is_newest_first_and_paginates(aws_env) -> None:
    jobs = factories.jobs()
    created = [jobs.create(_job("alice", f"2026-01-0{i}T00:00:00.000Z")) for i in range(1, 6)]
    jobs.create(_job("bob"))
    page, token = jobs.list_for_user("alice", limit=2)
    seen = list(page)
    while token:
        page, token = jobs.list_for_user("alice", limit=2, next_token=token)
        seen.extend(page)
    assert [j.job_id for j in seen] == [j.job_id for j in reversed(created)]


@pytest.mark.parametrize("token", ["not-base64!", "eyJ4IjogMX0=", ""])
def test_bad_page_token_is_a_client_error(aws_env, token: str) -> None:
    jobs = factories.jobs()
    if token == "":
        assert jobs.list_for_user("alice", limit=2, next_token=token) == ([], None)
        return
    with pytest.raises(InvalidRequest):
        jobs.list_for_user("alice", limit=2, next_token=token)


def test_mark_failed_only_from_an_unfinished_state(aws_env) -> None:
    jobs = factories.jobs()
    job = jobs.create(_job("alice"))
    assert jobs.mark_failed(job.job_id, "ModelError", "the model failed") is True
    assert jobs.mark_failed(job.job_id, "Other", "second failure") is False
    stored = jobs.get(job.job_id)
    assert stored.status == JobStatus.FAILED
    assert stored.error is not None and stored.error.code == "ModelError"


def test_user_created_once_with_signup_credits(aws_env) -> None:
    users = factories.users()
    first = users.get_or_create("alice", signup_credits=7)
    again = users.get_or_create("alice", signup_credits=99)
    assert first.credits == again.credits == 7
