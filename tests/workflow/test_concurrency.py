"""Per-user limit: never more than N of a user's jobs run; the rest wait and start in order."""

from __future__ import annotations

import time

import pytest

from lambdas.common.models import JobStatus
from tests.workflow.harness import COST, ConcurrencyMonitor, Workflow, set_limit


@pytest.mark.parametrize(("jobs", "limit"), [(2, 1), (3, 1), (3, 2)])
def test_jobs_of_one_user_respect_the_limit_and_run_in_order(
    workflow: Workflow, monkeypatch: pytest.MonkeyPatch, jobs: int, limit: int
) -> None:
    set_limit(monkeypatch, limit)
    workflow.user("alice", credits=10)
    workflow.endpoint.auto_delay_s = 0.3
    with ConcurrencyMonitor(workflow, ["alice"]) as monitor:
        submitted = [workflow.submit("alice") for _ in range(jobs)]
        outcomes = [workflow.wait(job.job_id)["status"] for job in submitted]

    assert outcomes == ["SUCCEEDED"] * jobs
    # Submission order: a job may only start next to (never before) the `limit - 1` jobs ahead of it.
    started = [i.inference_id for i in workflow.endpoint.invocations]
    assert sorted(started) == sorted(j.job_id for j in submitted)
    for submitted_at, job in enumerate(submitted):
        assert submitted_at - started.index(job.job_id) < limit
    if limit == 1:
        assert started == [j.job_id for j in submitted]
    assert monitor.max_slots["alice"] == limit  # the limit is reached and never exceeded
    assert monitor.max_processing["alice"] <= limit
    assert all(workflow.job(j.job_id).status == JobStatus.PROCESSED for j in submitted)
    assert workflow.credits("alice") == 10 - jobs * COST
    assert workflow.slots("alice") == set()


def test_order_is_submission_order_not_execution_start_order(workflow: Workflow) -> None:
    """The older job goes first even when the newer job's execution asks for the slot first."""
    workflow.user("alice", credits=10)
    older = workflow.submit("alice", start=False)
    newer = workflow.submit("alice")
    _wait_for_slot_token(workflow, newer.job_id)  # parked: an older job is queued ahead of it
    assert workflow.slots("alice") == set()
    workflow.start(older)
    workflow.endpoint.wait_for_invocation(older.job_id)
    assert workflow.job(newer.job_id).status == JobStatus.QUEUED
    workflow.endpoint.succeed(older.job_id)
    workflow.endpoint.wait_for_invocation(newer.job_id)
    workflow.endpoint.succeed(newer.job_id)
    assert workflow.wait(newer.job_id)["status"] == "SUCCEEDED"
    assert [i.inference_id for i in workflow.endpoint.invocations] == [older.job_id, newer.job_id]


def _wait_for_slot_token(flow: Workflow, job_id: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not flow.job(job_id).slot_token:
        assert time.monotonic() < deadline, "the job never parked on AcquireSlot"
        time.sleep(0.02)


def test_a_waiting_job_stays_queued_until_the_slot_is_free(workflow: Workflow) -> None:
    workflow.user("alice", credits=10)
    first, second = workflow.submit("alice"), workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(first.job_id)
    waiting = workflow.job(second.job_id)
    assert waiting.status == JobStatus.QUEUED and waiting.slot_token  # parked on its token
    assert workflow.slots("alice") == {first.job_id}

    workflow.endpoint.succeed(first.job_id)
    workflow.endpoint.wait_for_invocation(second.job_id)  # woken by the first job's release
    workflow.endpoint.succeed(second.job_id)
    assert workflow.wait(second.job_id)["status"] == "SUCCEEDED"
    # Woken by the hand-over, not by the AcquireSlot safety timeout (60 s in these tests).
    acquire_attempts = [
        e
        for e in workflow.history(second.job_id)
        if e.get("stateEnteredEventDetails", {}).get("name") == "AcquireSlot"
    ]
    assert len(acquire_attempts) == 1


def test_a_failed_job_hands_its_slot_to_the_next(workflow: Workflow) -> None:
    workflow.user("alice", credits=10)
    first, second = workflow.submit("alice"), workflow.submit("alice")
    workflow.endpoint.wait_for_invocation(first.job_id)
    workflow.endpoint.fail(first.job_id, "ClientError: model crashed")
    workflow.endpoint.wait_for_invocation(second.job_id)
    workflow.endpoint.succeed(second.job_id)
    assert workflow.wait(first.job_id)["status"] == "FAILED"
    assert workflow.wait(second.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 10 - COST
    assert workflow.slots("alice") == set()


def test_jobs_of_different_users_run_side_by_side(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    workflow.user("bob", credits=5)
    alice, bob = workflow.submit("alice"), workflow.submit("bob")
    # Both reach the endpoint before either finishes: one user's slot does not block another.
    workflow.endpoint.wait_for_invocation(alice.job_id)
    workflow.endpoint.wait_for_invocation(bob.job_id)
    assert workflow.slots("alice") == {alice.job_id} and workflow.slots("bob") == {bob.job_id}
    workflow.endpoint.succeed(bob.job_id)
    workflow.endpoint.succeed(alice.job_id)
    assert workflow.wait(alice.job_id)["status"] == workflow.wait(bob.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == workflow.credits("bob") == 5 - COST


def test_the_limit_holds_when_the_slot_wait_times_out(workflow: Workflow) -> None:
    """The AcquireSlot safety timeout fires while a job waits: it must still never run early.

    MarkProcessing re-checks slot ownership in its transaction, so a job that leaves AcquireSlot
    without a slot (a timeout, or moto 5.2.5 moving on after TaskTimedOut instead of raising
    States.Timeout) goes back in line instead of running beside the job that holds the slot.
    """
    workflow.deploy(SlotPollSeconds=1)
    workflow.user("alice", credits=10)
    workflow.endpoint.auto_delay_s = 2.5  # longer than the slot poll: waiting jobs time out
    with ConcurrencyMonitor(workflow, ["alice"]) as monitor:
        submitted = [workflow.submit("alice") for _ in range(3)]
        outcomes = [workflow.wait(job.job_id)["status"] for job in submitted]
    assert outcomes == ["SUCCEEDED"] * 3
    assert monitor.max_processing["alice"] == 1
    assert [i.inference_id for i in workflow.endpoint.invocations] == [j.job_id for j in submitted]
    assert workflow.credits("alice") == 10 - 3 * COST
