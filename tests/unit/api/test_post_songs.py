"""POST /songs beyond the happy path: idempotency, workflow start failure, metrics."""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import ClientError

from lambdas.common.models import JobStatus, Reservation
from tests import factories

VALID = {"mode": "description", "description": "an upbeat synthwave song about night drives"}


def _jobs(aws_env) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=aws_env.jobs_table)["Items"]


def _executions(arn: str) -> list[dict]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def test_same_key_and_body_return_the_same_job(api, aws_env, state_machine_arn) -> None:
    key = {"Idempotency-Key": "retry-7f3a"}
    first = api.post_song(VALID, headers=key)
    # Same JSON written differently (key order, spacing) is the same body.
    rewritten = json.dumps(dict(reversed(list(VALID.items()))), indent=4)
    second = api.call("POST", "/songs", raw_body=rewritten, headers={"idempotency-key": "retry-7f3a"})
    assert (first.status, second.status) == (202, 202)
    assert second.body["job_id"] == first.body["job_id"]
    assert len(_jobs(aws_env)) == 1
    assert len(_executions(state_machine_arn)) == 1


def test_same_key_with_another_body_is_409(api, aws_env, state_machine_arn) -> None:
    key = {"Idempotency-Key": "retry-7f3a"}
    assert api.post_song(VALID, headers=key).status == 202
    result = api.post_song({**VALID, "duration_s": 60}, headers=key)
    assert (result.status, result.error_code) == (409, "IdempotencyConflict")
    assert len(_jobs(aws_env)) == 1


def test_keys_are_per_user(api, aws_env) -> None:
    key = {"Idempotency-Key": "shared-key"}
    alice = api.post_song(VALID, headers=key, user="alice")
    bob = api.post_song(VALID, headers=key, user="bob")
    assert alice.body["job_id"] != bob.body["job_id"]
    assert factories.jobs().get(bob.body["job_id"]).user_id == "bob"


def test_without_a_key_every_post_is_a_new_job(api, aws_env) -> None:
    ids = {api.post_song(VALID).body["job_id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_failed_attempt_does_not_pin_the_key(api, aws_env) -> None:
    key = {"Idempotency-Key": "after-top-up"}
    factories.users().get_or_create("alice", signup_credits=0)
    assert api.post_song(VALID, headers=key).status == 402
    factories.ledger().add_credits("alice", 5)
    assert api.post_song(VALID, headers=key).status == 202


def test_workflow_start_failure_marks_the_job_failed(api, aws_env, monkeypatch) -> None:
    # The execution cannot start: the state machine does not exist.
    from lambdas.common import runtime

    monkeypatch.setenv("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:gone")
    runtime.reset_all()
    result = api.post_song(VALID)
    assert (result.status, result.error_code) == (503, "ServiceUnavailable")
    job = factories.jobs().get(result.body["error"]["details"]["job_id"])
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == "WorkflowStartFailed"
    assert job.reservation == Reservation.RELEASED  # the price held for it is given back
    me = api.call("GET", "/me").body
    assert (me["credits"], me["reserved_credits"]) == (10, 0)


def test_start_failure_with_idempotency_key_can_be_retried(api, aws_env, monkeypatch) -> None:
    calls = {"n": 0}
    from lambdas.api.services.executions import Executions

    real_start = Executions.start

    def flaky(self, job):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "StartExecution")
        return real_start(self, job)

    monkeypatch.setattr(Executions, "start", flaky)
    key = {"Idempotency-Key": "flaky"}
    assert api.post_song(VALID, headers=key).status == 503
    retried = api.post_song(VALID, headers=key)
    assert retried.status == 202
    statuses = sorted(item["status"]["S"] for item in _jobs(aws_env))
    assert statuses == ["failed", "queued"]


def _emf(output: str, name: str) -> list[dict]:
    documents = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [doc for doc in documents if name in doc]


def test_accepted_song_emits_songs_requested_by_mode(api, capsys) -> None:
    capsys.readouterr()
    api.post_song({"mode": "custom_lyrics", "prompt": "folk, warm", "lyrics": "la la"})
    output = capsys.readouterr().out
    (doc,) = _emf(output, "SongsRequested")
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "SongService"
    assert {"stage", "mode"} <= set(directive["Dimensions"][0])
    assert (doc["stage"], doc["mode"]) == ("test", "custom_lyrics")
    assert _emf(output, "SongsRejected") == []


def test_rejected_song_emits_songs_rejected_with_reason(api, capsys) -> None:
    factories.users().get_or_create("alice", signup_credits=0)
    capsys.readouterr()
    api.post_song(VALID)
    output = capsys.readouterr().out
    (doc,) = _emf(output, "SongsRejected")
    assert (doc["stage"], doc["reason"]) == ("test", "InsufficientCredits")
    assert _emf(output, "SongsRequested") == []


def test_a_submit_that_keeps_losing_the_race_for_the_balance_is_a_429_with_retry_after(
    api, aws_env, monkeypatch
) -> None:
    """Each attempt re-reads the balance and backs off; when the user's other requests keep
    changing it, the answer is a 429 the client retries after Retry-After, not a 5xx, and nothing
    is created or reserved."""
    import time

    from lambdas.common.store import ledger

    api.call("GET", "/me")
    attempts: list[float] = []

    def always_raced(items, token=None):  # type: ignore[no-untyped-def]
        attempts.append(time.monotonic())
        return ClientError(  # the transaction was cancelled by its conditions
            {"Error": {"Code": "TransactionCanceledException", "Message": "ConditionalCheckFailed"}},
            "TransactWriteItems",
        )

    monkeypatch.setattr(ledger, "transact", always_raced)
    result = api.post_song(VALID)
    assert (result.status, result.error_code) == (429, "ConcurrentRequests")
    assert result.headers["Retry-After"] == "1"
    assert len(attempts) == ledger.MAX_RESERVE_ATTEMPTS
    assert attempts[-1] - attempts[0] < 1.0  # backed off, briefly
    assert factories.jobs().list_for_user("alice", 10, None)[0] == []
    me = api.call("GET", "/me").body
    assert (me["credits"], me["reserved_credits"]) == (10, 0)
