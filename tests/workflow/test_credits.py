"""Price by length and the reservation: a song's price is held at submission, captured exactly
once when it is processed, released when it is not; a user never has more in flight than the
credits cover."""

from __future__ import annotations

import pytest

from lambdas.common.errors import InsufficientCredits
from lambdas.common.models import JobStatus, Reservation
from tests.workflow.harness import CREDITS_PER_MINUTE, REQUEST, Workflow


def test_a_ten_minute_song_costs_ten_times_a_one_minute_song(workflow: Workflow) -> None:
    workflow.user("alice", credits=30)
    long_song = workflow.submit("alice", REQUEST | {"duration_s": 600})
    short_song = workflow.submit("alice", REQUEST | {"duration_s": 60})
    assert (long_song.price_credits, short_song.price_credits) == (
        10 * CREDITS_PER_MINUTE,
        CREDITS_PER_MINUTE,
    )
    assert workflow.reserved("alice") == 11 * CREDITS_PER_MINUTE  # both held from submission

    workflow.endpoint.wait_for_invocation(long_song.job_id)
    workflow.endpoint.succeed(long_song.job_id)
    assert workflow.wait(long_song.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 30 - 10 * CREDITS_PER_MINUTE

    workflow.endpoint.wait_for_invocation(short_song.job_id)
    workflow.endpoint.succeed(short_song.job_id)
    assert workflow.wait(short_song.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 30 - 11 * CREDITS_PER_MINUTE
    assert workflow.reserved("alice") == 0
    for job in (long_song, short_song):
        done = workflow.job(job.job_id)
        assert done.charged and done.reservation == Reservation.CAPTURED


def test_a_started_minute_is_a_minute(workflow: Workflow) -> None:
    workflow.user("alice", credits=10)
    job = workflow.submit("alice", REQUEST | {"duration_s": 61})
    assert job.price_credits == 2 * CREDITS_PER_MINUTE
    workflow.endpoint.wait_for_invocation(job.job_id)
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 10 - 2 * CREDITS_PER_MINUTE


def test_no_more_songs_in_flight_than_the_credits_cover(workflow: Workflow) -> None:
    """One song's price held: a second one is refused until the first ends; a failure gives the
    price back at once."""
    workflow.user("alice", credits=3)  # one one-minute song (2 credits) at a time
    first = workflow.submit("alice")
    with pytest.raises(InsufficientCredits) as refused:
        workflow.submit("alice")
    assert refused.value.details == {
        "price_credits": 2,
        "credits": 3,
        "reserved_credits": 2,
        "available_credits": 1,
    }
    assert [j.job_id for j in workflow.jobs_of("alice")] == [first.job_id]  # no row was written

    workflow.endpoint.wait_for_invocation(first.job_id)
    workflow.endpoint.fail(first.job_id, "model crashed")
    assert workflow.wait(first.job_id)["status"] == "FAILED"
    assert workflow.job(first.job_id).reservation == Reservation.RELEASED
    assert workflow.reserved("alice") == 0 and workflow.credits("alice") == 3

    second = workflow.submit("alice")  # the released price is available again
    workflow.endpoint.wait_for_invocation(second.job_id)
    workflow.endpoint.succeed(second.job_id)
    assert workflow.wait(second.job_id)["status"] == "SUCCEEDED"
    assert workflow.credits("alice") == 1 and workflow.reserved("alice") == 0
    assert workflow.job(second.job_id).status == JobStatus.PROCESSED
