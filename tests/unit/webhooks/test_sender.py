"""The webhook sender against moto and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from lambdas.common.contract import WEBHOOK_SENDER
from lambdas.common.lifecycle import event_body
from lambdas.common.models import Job, JobStatus
from lambdas.webhook_sender import handler as sender
from lambdas.webhooks import delivery
from lambdas.webhooks import http as webhook_http
from lambdas.webhooks.delivery import Outcome, Result
from lambdas.webhooks.schedule import (
    DELIVERY_DEADLINE_S,
    MAX_ATTEMPTS,
    SENDER_RESERVE_S,
    WEBHOOK_SENDER_TIMEOUT_S,
)
from lambdas.webhooks.secret import new_secret
from local.lambda_context import LambdaContext
from tests import factories
from tests.webhook_receiver import WebhookReceiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
def env(aws_env, monkeypatch: pytest.MonkeyPatch):
    from lambdas.common import runtime

    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")
    runtime.reset_all()
    factories.users().get_or_create("alice", signup_credits=5)
    return aws_env


def _job(url: str | None, status: JobStatus = JobStatus.PROCESSED) -> Job:
    request: dict[str, Any] = {"mode": "description", "description": "a calm song"}
    return factories.put_job("alice", status, request=request, webhook_url=url)


def deliver(body: dict[str, Any], attempt: int) -> Outcome:
    """One delivery as the sender function makes it (with its settings and stores)."""
    return delivery.deliver(body, attempt, sender.cold_start.dependencies())


def _record(job_id: str, event_type: str) -> dict[str, Any]:
    row = factories.deliveries().song_row(job_id)
    assert row is not None
    return factories.deliveries().last(row, event_type)


def test_a_delivery_is_signed_and_recorded(env, receiver) -> None:
    job = _job(receiver.url())
    body = event_body(job, "song.processed")
    outcome = deliver(body, attempt=1)
    assert outcome.result is Result.DELIVERED
    (request,) = receiver.received()
    assert json.loads(request.body) == body
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-signature"].startswith("v1,")
    assert _record(job.job_id, "song.processed")["status"] == "delivered"
    # The secret was created on first use and is the user's from now on.
    assert factories.users().webhook_secret("alice", lambda: "whsec_other") != "whsec_other"

    # A duplicate event (a retried workflow step) does not reach the receiver again.
    assert deliver(body, attempt=1).result is Result.SKIPPED
    assert len(receiver.received()) == 1


def test_a_delivery_verifies_with_the_standard_webhooks_library(env, receiver) -> None:
    body = event_body(_job(receiver.url()), "song.processed")
    assert deliver(body, attempt=1).result is Result.DELIVERED
    (request,) = receiver.received()
    secret = factories.users().webhook_secret("alice", lambda: "whsec_unused")
    # The receiver's side of the spec: signature over id, timestamp and body, timestamp fresh.
    assert Webhook(secret).verify(request.body, request.headers) == body
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"processed", b"failed"), request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)


def test_a_5xx_is_retried_then_given_up(env, receiver) -> None:
    job = _job(receiver.url())
    receiver.script("/hook", 500, 503)
    body = event_body(job, "song.failed")
    first = deliver(body, attempt=1)
    assert (first.result, first.detail) == (Result.RETRY, "http 500")
    assert 4 <= first.retry_in_s <= 6
    assert _record(job.job_id, "song.failed")["attempts"] == 1
    last = deliver(body, attempt=MAX_ATTEMPTS)
    assert last.result is Result.FAILED
    assert _record(job.job_id, "song.failed")["status"] == "failed"


class SlowLoris:
    """A receiver that reads the request, then answers `200 OK` one byte every `interval_s`: a
    per-read timeout never fires, since every read gets a byte in time."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.sent = 0
        self.requests = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            self.requests += 1
            try:
                for byte in self.ANSWER:
                    time.sleep(self.interval_s)
                    conn.sendall(bytes([byte]))
                    self.sent += 1
            except OSError:
                return  # the sender hung up

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def slow_loris() -> Iterator[SlowLoris]:
    receiver = SlowLoris(interval_s=0.25)
    yield receiver
    receiver.close()


def test_a_slow_loris_receiver_is_cut_off_at_the_total_deadline(env, slow_loris, monkeypatch) -> None:
    """One byte every 0.25 s would take ~14 s for the whole answer; the delivery's deadline (here
    1.5 s) ends it however regularly the bytes come, and it is a failed attempt, not a delivery."""
    monkeypatch.setattr(delivery, "DELIVERY_DEADLINE_S", 1.5)
    job = _job(slow_loris.url)
    started = time.monotonic()
    outcome = deliver(event_body(job, "song.processed"), attempt=2)
    elapsed = time.monotonic() - started
    assert (outcome.result, outcome.detail) == (Result.RETRY, "error: DeadlineExceeded")
    assert elapsed < 2.5
    assert 0 < slow_loris.sent < len(SlowLoris.ANSWER)
    assert _record(job.job_id, "song.processed")["status"] == "retry"


def test_a_name_that_does_not_resolve_in_time_counts_against_the_deadline(monkeypatch) -> None:
    def hanging(*args: Any, **kwargs: Any) -> list[Any]:
        time.sleep(3)
        return []

    monkeypatch.setattr(webhook_http.socket, "getaddrinfo", hanging)
    resolve = webhook_http.resolver_until(time.monotonic() + 0.3)
    started = time.monotonic()
    with pytest.raises(webhook_http.DeadlineExceeded, match="did not resolve"):
        resolve("hooks.example.com", 443)
    assert time.monotonic() - started < 1.0


def test_a_receiver_that_answers_within_the_deadline_is_delivered(env, receiver) -> None:
    receiver.delay_s = 1.0  # slow, but within the deadline
    outcome = deliver(event_body(_job(receiver.url()), "song.processed"), attempt=1)
    assert outcome.result is Result.DELIVERED


@pytest.mark.slow
def test_a_slow_loris_in_a_batch_delays_no_other_delivery(env, receiver) -> None:
    """The issue's receiver: one byte every 2 s. In the same batch, another user's webhook is
    delivered at once; the slow one ends at the real deadline as a retry; the batch returns then."""
    loris = SlowLoris(interval_s=2.0)
    slow, fast = _job(loris.url), _job(receiver.url())
    records = _sqs_records([event_body(job, "song.processed") for job in (slow, fast)])
    started = time.monotonic()
    try:
        response = sender.lambda_handler({"Records": records}, LambdaContext("webhook-sender"))
    finally:
        loris.close()
    elapsed = time.monotonic() - started
    arrivals = [d.arrived_at for d in receiver.received()]
    assert arrivals and arrivals[0] - started < 1.0  # not behind the slow one
    assert _record(fast.job_id, "song.processed")["status"] == "delivered"
    assert _record(slow.job_id, "song.processed")["detail"] == "error: DeadlineExceeded"
    slow_id = next(r["messageId"] for r in records if slow.job_id in r["body"])
    assert response == {"batchItemFailures": [{"itemIdentifier": slow_id}]}
    assert DELIVERY_DEADLINE_S - 0.5 < elapsed < DELIVERY_DEADLINE_S + 2


def test_the_batch_returns_before_the_function_times_out(env, receiver) -> None:
    """A delivery still running when only SENDER_RESERVE_S of the function's time is left is
    retried on its own; the handler returns (on AWS the whole batch would otherwise time out)."""
    receiver.delay_s = 3.0
    records = _sqs_records([event_body(_job(receiver.url()), "song.processed")])
    context = LambdaContext("webhook-sender", timeout_s=SENDER_RESERVE_S + 1)
    started = time.monotonic()
    response = sender.lambda_handler({"Records": records}, context)
    assert time.monotonic() - started < 2.5
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}


def test_the_sender_outlasts_a_batch_of_deadlines() -> None:
    """The function's timeout holds a delivery's deadline plus the reserve, and the queue's
    visibility timeout is six times the function's (Lambda's guidance for SQS sources)."""
    assert WEBHOOK_SENDER_TIMEOUT_S >= DELIVERY_DEADLINE_S + SENDER_RESERVE_S + 5
    assert WEBHOOK_SENDER.function_timeout_s == WEBHOOK_SENDER_TIMEOUT_S
    assert WEBHOOK_SENDER.visibility_timeout_s >= 6 * WEBHOOK_SENDER_TIMEOUT_S


def test_no_webhook_no_delivery(env, receiver) -> None:
    assert deliver(event_body(_job(None), "song.processed"), attempt=1).result is Result.SKIPPED
    assert receiver.received() == []


def test_an_unsafe_url_is_refused_without_retries(env, monkeypatch) -> None:
    from lambdas.common import runtime

    job = _job("http://127.0.0.1:9/hook")
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP_LOOPBACK", "false")  # as deployed
    runtime.reset_all()
    outcome = deliver(event_body(job, "song.processed"), attempt=1)
    assert outcome.result is Result.REFUSED
    assert _record(job.job_id, "song.processed")["status"] == "refused"


def test_the_handler_delays_only_the_failed_message(env, receiver) -> None:
    down = WebhookReceiver(default_status=502)
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="webhooks", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    ok, failing = _job(receiver.url()), _job(down.url())
    for job in (ok, failing):
        event = {"source": "song-service", "detail": event_body(job, "song.processed")}
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "eventSourceARN": attributes["QueueArn"],
        }
        for m in messages["Messages"]
    ]
    try:
        response = sender.lambda_handler({"Records": records}, LambdaContext("webhook-sender"))
    finally:
        down.close()
    failed_id = next(r["messageId"] for r in records if failing.job_id in r["body"])
    assert response == {"batchItemFailures": [{"itemIdentifier": failed_id}]}
    assert _record(ok.job_id, "song.processed")["status"] == "delivered"
    assert _record(failing.job_id, "song.processed") | {"updated_at": None} == {
        "status": "retry",
        "attempts": 1,
        "detail": "http 502",
        "updated_at": None,
    }


def _sqs_records(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="webhooks", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"detail": body}))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "eventSourceARN": arn,
        }
        for m in messages["Messages"]
    ]


def test_an_internal_error_backs_off_on_the_delivery_schedule(env, monkeypatch) -> None:
    """Each receive counts toward the dead-letter queue's max receives: a DynamoDB blip must not
    use up the attempts in seconds."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("throttled")

    monkeypatch.setattr(sender, "deliver", broken)
    record = {"messageId": "m", "body": json.dumps({"detail": {}}), "attributes": {}}
    for attempt, low, high in [(1, 4, 6), (3, 1620, 1980)]:
        record["attributes"]["ApproximateReceiveCount"] = str(attempt)
        outcome = sender._handle(sender.cold_start.dependencies(), record)
        assert outcome.result is Result.RETRY and low <= outcome.retry_in_s <= high
    record["attributes"]["ApproximateReceiveCount"] = str(MAX_ATTEMPTS)
    assert (
        sender._handle(sender.cold_start.dependencies(), record).retry_in_s == 0
    )  # next receive dead-letters it


def test_the_handler_makes_its_aws_objects_before_its_threads(env, receiver, monkeypatch) -> None:
    from lambdas.common import aws

    threads: list[str] = []
    records = _sqs_records([event_body(_job(receiver.url()), "song.processed") for _ in range(3)])
    with monkeypatch.context() as patch:  # undone before the fixture's aws.reset()
        for name in ("client", "table"):
            real = getattr(aws, name)

            def recording(*args: Any, _real: Any = real) -> Any:
                threads.append(threading.current_thread().name)
                return _real(*args)

            patch.setattr(aws, name, recording)
        response = sender.lambda_handler({"Records": records}, LambdaContext("webhook-sender"))
    assert response == {"batchItemFailures": []}
    assert len(receiver.received()) == 3
    assert threads and set(threads) == {threading.main_thread().name}


def test_the_webhook_secret_is_read_once_it_exists(env) -> None:
    users = factories.users()
    first = users.webhook_secret("alice", lambda: "whsec_first")

    def must_not_write() -> str:
        raise AssertionError("a secret was generated for a user who has one")

    assert first == "whsec_first" == users.webhook_secret("alice", must_not_write)
