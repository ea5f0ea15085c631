"""The webhook sender against moto and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from lambdas.common.lifecycle import event_body
from lambdas.common.models import Job, JobStatus, new_job_id, utc_now
from lambdas.common.repositories import JobRepository, UserRepository
from lambdas.webhook_sender import handler as sender
from lambdas.webhooks import http as webhook_http
from lambdas.webhooks.delivery import Result, deliver
from lambdas.webhooks.schedule import MAX_ATTEMPTS
from local.lambda_context import LambdaContext


class Receiver:
    """Answers each request with the next scripted status (then 200), recording what came."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                time.sleep(receiver.delay_s)
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def env(aws_env, monkeypatch: pytest.MonkeyPatch):
    from lambdas.common import settings

    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")
    settings.get_settings.cache_clear()
    UserRepository().get_or_create("alice", signup_credits=5)
    return aws_env


def _job(url: str | None, status: JobStatus = JobStatus.PROCESSED) -> Job:
    now = utc_now()
    request: dict[str, Any] = {"mode": "description", "description": "a calm song"}
    if url:
        request["webhook_url"] = url
    job = Job(
        job_id=new_job_id(),
        user_id="alice",
        status=status,
        stage=status.value,
        request=request,
        created_at=now,
        updated_at=now,
    )
    return JobRepository().create(job)


def _record(job_id: str, event_type: str) -> dict[str, Any]:
    row = JobRepository().read_row(job_id)
    assert row is not None
    return row[f"webhook_{event_type}"]


def test_a_delivery_is_signed_and_recorded(env, receiver) -> None:
    job = _job(receiver.url)
    body = event_body(job, "song.processed")
    outcome = deliver(body, attempt=1)
    assert outcome.result is Result.DELIVERED
    (request,) = receiver.requests
    assert json.loads(request["body"]) == body
    assert request["headers"]["webhook-id"].startswith("msg_")
    assert request["headers"]["webhook-signature"].startswith("v1,")
    assert _record(job.job_id, "song.processed")["status"] == "delivered"
    # The secret was created on first use and is the user's from now on.
    assert UserRepository().webhook_secret("alice", lambda: "whsec_other") != "whsec_other"

    # A duplicate event (a retried workflow step) does not reach the receiver again.
    assert deliver(body, attempt=1).result is Result.SKIPPED
    assert len(receiver.requests) == 1


def test_a_5xx_is_retried_then_given_up(env, receiver) -> None:
    job = _job(receiver.url)
    receiver.statuses = [500, 503]
    body = event_body(job, "song.failed")
    first = deliver(body, attempt=1)
    assert (first.result, first.detail) == (Result.RETRY, "http 500")
    assert 4 <= first.retry_in_s <= 6
    assert _record(job.job_id, "song.failed")["attempts"] == 1
    last = deliver(body, attempt=MAX_ATTEMPTS)
    assert last.result is Result.FAILED
    assert _record(job.job_id, "song.failed")["status"] == "failed"


def test_a_slow_receiver_times_out(env, receiver, monkeypatch) -> None:
    monkeypatch.setattr(webhook_http, "READ_TIMEOUT_S", 0.2)
    receiver.delay_s = 1.0
    outcome = deliver(event_body(_job(receiver.url), "song.processed"), attempt=2)
    assert outcome.result is Result.RETRY and "Timeout" in outcome.detail


def test_no_webhook_no_delivery(env, receiver) -> None:
    assert deliver(event_body(_job(None), "song.processed"), attempt=1).result is Result.SKIPPED
    assert receiver.requests == []


def test_an_unsafe_url_is_refused_without_retries(env, monkeypatch) -> None:
    from lambdas.common import settings

    job = _job("http://127.0.0.1:9/hook")
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP_LOOPBACK", "false")  # as deployed
    settings.get_settings.cache_clear()
    outcome = deliver(event_body(job, "song.processed"), attempt=1)
    assert outcome.result is Result.REFUSED
    assert _record(job.job_id, "song.processed")["status"] == "refused"


def test_the_handler_delays_only_the_failed_message(env, receiver) -> None:
    down = Receiver()
    down.statuses = [502] * 5
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="webhooks", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    ok, failing = _job(receiver.url), _job(down.url)
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
        down.server.shutdown()
        down.server.server_close()
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
        outcome = sender._handle(JobRepository(), record)
        assert outcome.result is Result.RETRY and low <= outcome.retry_in_s <= high
    record["attributes"]["ApproximateReceiveCount"] = str(MAX_ATTEMPTS)
    assert sender._handle(JobRepository(), record).retry_in_s == 0  # next receive dead-letters it


def test_the_handler_makes_its_aws_objects_before_its_threads(env, receiver, monkeypatch) -> None:
    from lambdas.common import aws

    threads: list[str] = []
    records = _sqs_records([event_body(_job(receiver.url), "song.processed") for _ in range(3)])
    with monkeypatch.context() as patch:  # undone before the fixture's aws.reset()
        for name in ("client", "table"):
            real = getattr(aws, name)

            def recording(*args: Any, _real: Any = real) -> Any:
                threads.append(threading.current_thread().name)
                return _real(*args)

            patch.setattr(aws, name, recording)
        response = sender.lambda_handler({"Records": records}, LambdaContext("webhook-sender"))
    assert response == {"batchItemFailures": []}
    assert len(receiver.requests) == 3
    assert threads and set(threads) == {threading.main_thread().name}


def test_the_webhook_secret_is_read_once_it_exists(env) -> None:
    users = UserRepository()
    first = users.webhook_secret("alice", lambda: "whsec_first")

    def must_not_write() -> str:
        raise AssertionError("a secret was generated for a user who has one")

    assert first == "whsec_first" == users.webhook_secret("alice", must_not_write)
