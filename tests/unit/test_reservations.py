"""The price of a song: computed by length, reserved at submission, captured or released once."""

from __future__ import annotations

import os

import boto3
import pytest

from lambdas.common.errors import InsufficientCredits, JobStateConflict
from lambdas.common.models import Job, JobResult, JobStatus, Reservation
from lambdas.common.pricing import price_credits, request_price
from lambdas.common.store.users import UserStore
from tests import factories

RESULT = JobResult(audio=[], prompt="lofi", seed=1, duration_s=60.0)


@pytest.mark.parametrize(
    ("duration_s", "takes", "per_minute", "price"),
    [
        (10, 1, 1, 1),
        (60, 1, 1, 1),
        (60.5, 1, 1, 2),
        (61, 1, 3, 6),
        (180, 1, 1, 3),
        (600, 1, 2, 20),
        (90, 4, 1, 8),
    ],
)
def test_price_is_per_started_minute_and_take(
    duration_s: float, takes: int, per_minute: int, price: int
) -> None:
    assert price_credits(duration_s, takes, per_minute) == price


@pytest.mark.parametrize("args", [(0, 1, 1), (60, 0, 1), (60, 1, 0)])
def test_price_refuses_what_cannot_be_a_song(args: tuple) -> None:
    with pytest.raises(ValueError):
        price_credits(*args)


def test_request_price_reads_duration_and_variants() -> None:
    assert request_price({"duration_s": 150}, 2, transcribe_credits=1) == 6
    assert request_price({"duration_s": 150, "variants": 3}, 2, transcribe_credits=1) == 18


def _job(user_id: str, price: int) -> Job:
    request = {"mode": "description", "description": "song", "duration_s": 60}
    return factories.new_job(user_id, request=request, price_credits=price)


def _set_status(job_id: str, status: JobStatus) -> None:
    boto3.resource("dynamodb").Table(os.environ["JOBS_TABLE_NAME"]).update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status.value},
    )


def _user(user_id: str = "alice") -> tuple[int, int]:
    user = factories.users().find(user_id)
    assert user is not None
    return user.credits, user.reserved_credits


def test_reserve_holds_the_price_and_refuses_what_is_not_available(aws_env) -> None:
    ledger = factories.ledger()
    first = ledger.create_reserved(_job("alice", 3), signup_credits=5)
    assert first.reservation == Reservation.HELD and ledger.jobs.get(first.job_id).price_credits == 3
    assert _user() == (5, 3)
    with pytest.raises(InsufficientCredits) as refused:
        ledger.create_reserved(_job("alice", 3), 10)
    assert refused.value.details == {
        "price_credits": 3,
        "credits": 5,
        "reserved_credits": 3,
        "available_credits": 2,
    }
    assert "3 credits" in refused.value.message and "2 available" in refused.value.message
    assert len(ledger.jobs.list_for_user("alice", 10)[0]) == 1  # the refused job left no row
    ledger.create_reserved(_job("alice", 2), 10)
    assert _user() == (5, 5)


def test_a_reservation_from_a_stale_read_is_retried_not_overbooked(aws_env, monkeypatch) -> None:
    """Two submissions read the same balance: the second one's transaction requires the reserved
    amount it read, fails, reads again and is refused. (Interleaved by hand: moto's in-process
    transactions are not atomic across threads, DynamoDB's are.)"""
    users = factories.users()
    users.get_or_create("alice", signup_credits=4)
    stale = users.find("alice")
    factories.ledger().create_reserved(_job("alice", 3), 10)
    reads: list[int] = []
    real = UserStore.get_or_create

    def first_read_is_stale(self, user_id, signup_credits=None):  # type: ignore[no-untyped-def]
        reads.append(1)
        return stale if len(reads) == 1 else real(self, user_id, signup_credits)

    monkeypatch.setattr(UserStore, "get_or_create", first_read_is_stale)
    with pytest.raises(InsufficientCredits):
        factories.ledger().create_reserved(_job("alice", 3), 10)
    assert len(reads) == 2  # refused by the transaction, then by the fresh read
    assert _user() == (4, 3)
    assert len(factories.jobs().list_for_user("alice", 20)[0]) == 1


def test_capture_charges_once_and_completes_the_job(aws_env) -> None:
    ledger = factories.ledger()
    job = ledger.create_reserved(_job("alice", 2), signup_credits=5)
    _set_status(job.job_id, JobStatus.PROCESSING)
    assert ledger.capture(job.job_id, RESULT) is True
    assert ledger.capture(job.job_id, RESULT) is False  # a retry
    done = ledger.jobs.get(job.job_id)
    assert done.status == JobStatus.PROCESSED and done.charged and done.reservation == Reservation.CAPTURED
    assert done.result == RESULT
    assert _user() == (3, 0)
    assert ledger.release_reservation(job.job_id) is False  # nothing left to release
    assert _user() == (3, 0)


def test_capture_refuses_a_job_that_ended_otherwise(aws_env) -> None:
    ledger = factories.ledger()
    job = ledger.create_reserved(_job("alice", 2), signup_credits=5)
    _set_status(job.job_id, JobStatus.CANCELED)
    with pytest.raises(JobStateConflict):
        ledger.capture(job.job_id, RESULT)
    assert _user() == (5, 2)


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELED])
def test_release_gives_the_price_back_exactly_once(aws_env, status: JobStatus) -> None:
    ledger = factories.ledger()
    job = ledger.create_reserved(_job("alice", 2), signup_credits=5)
    assert ledger.release_reservation(job.job_id) is False  # still queued: the hold stays
    _set_status(job.job_id, status)
    assert ledger.release_reservation(job.job_id) is True
    assert ledger.release_reservation(job.job_id) is False
    assert ledger.jobs.get(job.job_id).reservation == Reservation.RELEASED
    assert _user() == (5, 0)
    with pytest.raises(JobStateConflict):
        ledger.capture(job.job_id, RESULT)


def test_a_revocation_cannot_take_reserved_credits(aws_env) -> None:
    from botocore.exceptions import ClientError

    ledger = factories.ledger()
    ledger.create_reserved(_job("alice", 3), signup_credits=5)
    with pytest.raises(ClientError):
        ledger.add_credits("alice", -3)
    assert ledger.add_credits("alice", -2) == 3
    assert _user() == (3, 3)


def test_a_reservation_whose_reply_was_lost_is_not_retried_into_a_503(aws_env, monkeypatch) -> None:
    """The first TransactWriteItems commits, its reply is lost and botocore sends it again: without
    an idempotency token the retry fails on the job's own row. create_reserved must return the job
    (reserved once), not loop until ServiceUnavailable and leave a queued row with no workflow."""
    from lambdas.common import aws

    factories.users().get_or_create("alice", signup_credits=5)
    client = aws.client("dynamodb")
    real = client.transact_write_items
    calls: list[dict] = []

    def reply_lost_once(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        real(**kwargs)
        if len(calls) == 1:
            real(**kwargs)  # the retry: moto ignores ClientRequestToken, as DynamoDB would without one

    monkeypatch.setattr(client, "transact_write_items", reply_lost_once)
    job = factories.ledger().create_reserved(_job("alice", 3), 10)
    assert job.reservation == Reservation.HELD
    assert factories.jobs().get(job.job_id).status is JobStatus.QUEUED
    assert _user() == (5, 3)  # reserved once
    assert len(calls) == 1 and len(calls[0]["ClientRequestToken"]) <= 36


def test_fail_and_release_is_one_step_and_happens_once(aws_env) -> None:
    ledger = factories.ledger()
    job = ledger.create_reserved(_job("alice", 3), signup_credits=5)
    assert ledger.fail_and_release(job.job_id, "WorkflowStartFailed", "not started") is True
    after = ledger.jobs.get(job.job_id)
    assert (after.status, after.reservation) == (JobStatus.FAILED, Reservation.RELEASED)
    assert _user() == (5, 0)
    assert ledger.fail_and_release(job.job_id, "WorkflowStartFailed", "not started") is False
    assert _user() == (5, 0)


def test_midi_is_a_flat_price_per_request() -> None:
    transcription = {"mode": "transcribe", "source": {"upload_id": "u"}, "duration_s": 590}
    assert request_price(transcription, 2, transcribe_credits=3) == 3
    stems = {"mode": "stems", "duration_s": 150, "tracks": ["vocals", "bass"], "formats": ["wav"]}
    assert request_price(stems, 2, transcribe_credits=3) == 12
    assert request_price({**stems, "formats": ["wav", "mid"]}, 2, transcribe_credits=3) == 15
