"""The local async endpoint through boto3's sagemaker-runtime client, against a scripted model server.

The model server here is a test double of the container contract (POST /invocations); the e2e tests
run the real container behind the same endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import ThreadingHTTPServer

import boto3
import pytest

from local.async_endpoint import (
    AsyncEndpoint,
    AsyncEndpointServer,
    ContainerModel,
    EndpointConfig,
    split_s3_uri,
)
from local.http_server import QuietHandler, send_json
from local.resources import create_data_and_storage, create_messaging
from stacks.config import ServiceConfig

from .raw_http import raw_request

ENDPOINT = ServiceConfig(stage_name="test").endpoint_name  # as the deployed endpoint is named


class _Model(QuietHandler):
    """The container's contract: a JSON answer to POST /invocations, 400 for a body that is not JSON."""

    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(body)
        try:
            send_json(self, 200, {"job_id": json.loads(body)["job_id"], "ok": True})
        except json.JSONDecodeError:
            send_json(self, 400, {"error": {"code": "BadRequest", "message": "the body is not valid JSON"}})


@pytest.fixture(scope="module")
def stack(emulator, names):
    create_data_and_storage(emulator.client("dynamodb"), emulator.client("s3"), names)
    messaging = create_messaging(emulator.client("sns"), emulator.client("sqs"), names)
    model = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    threading.Thread(target=model.serve_forever, daemon=True).start()
    endpoint = AsyncEndpoint(
        EndpointConfig.of_stack(ENDPOINT, names.inference_bucket, messaging),
        emulator.client("s3"),
        emulator.client("sns"),
        ContainerModel(f"http://127.0.0.1:{model.server_address[1]}", corrupt_marker="#corrupt#"),
    )
    server = AsyncEndpointServer(endpoint)
    _taps(emulator)
    endpoint.start()
    server.start()
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    yield runtime, emulator, names, messaging
    server.stop()
    endpoint.stop()
    model.shutdown()


def _invoke(stack, job_id: str, payload: dict) -> dict:
    runtime, emulator, names, _ = stack
    key = f"requests/{job_id}.json"
    emulator.client("s3").put_object(Bucket=names.inference_bucket, Key=key, Body=json.dumps(payload))
    return runtime.invoke_endpoint_async(
        EndpointName=ENDPOINT,
        InputLocation=f"s3://{names.inference_bucket}/{key}",
        InferenceId=job_id,
        ContentType="application/json",
    )


def _notification(stack, inference_id: str, timeout_s: float = 15) -> tuple[dict, dict]:
    """(the topic it was published to, SageMaker's notification) for one inference, from the
    callback queue, which holds the notification itself: raw message delivery, as deployed."""
    _, emulator, _, messaging = stack
    sqs = emulator.client("sqs")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        received = sqs.receive_message(
            QueueUrl=messaging.callback_queue_url, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for m in received.get("Messages", []):
            message = json.loads(m["Body"])
            assert "Type" not in message and "TopicArn" not in message  # no SNS envelope
            if message["inferenceId"] == inference_id:
                sqs.delete_message(QueueUrl=messaging.callback_queue_url, ReceiptHandle=m["ReceiptHandle"])
                return _published_to(emulator, message), message
    raise AssertionError(f"no notification for {inference_id}")


def _published_to(emulator, message: dict) -> str:
    """Which topic carried it: the one whose tap queue (subscribed to that topic alone) got it."""
    sqs = emulator.client("sqs")
    for topic, queue_url in _taps(emulator).items():
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            if json.loads(m["Body"])["inferenceId"] == message["inferenceId"]:
                return topic
    raise AssertionError("the notification reached neither topic")


def _taps(emulator) -> dict[str, str]:
    """A queue per notification topic, subscribed to it alone (created once)."""
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    taps = {}
    for topic in (t["TopicArn"] for t in sns.list_topics()["Topics"] if "-inference-" in t["TopicArn"]):
        name = f"tap-{topic.rsplit(':', 1)[1]}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscribed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if not any(s["Endpoint"] == arn for s in subscribed):
            sns.subscribe(
                TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
            )
        taps[topic] = url
    return taps


def _read(emulator, uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    return emulator.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_success_writes_output_and_notifies_the_success_topic(stack) -> None:
    _, emulator, names, messaging = stack
    response = _invoke(stack, "job-ok", {"job_id": "job-ok", "mode": "description"})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["InferenceId"] == "job-ok"
    assert response["OutputLocation"] == f"s3://{names.inference_bucket}/async-output/job-ok.out"
    assert response["FailureLocation"] == f"s3://{names.inference_bucket}/async-failures/job-ok.out"

    topic, message = _notification(stack, "job-ok")
    assert topic == messaging.success_topic_arn
    assert message["invocationStatus"] == "Completed"
    assert message["eventSource"] == "aws:sagemaker" and message["eventVersion"] == "1.0"
    assert message["requestParameters"]["endpointName"] == ENDPOINT
    assert message["requestParameters"]["inputLocation"].endswith("requests/job-ok.json")
    assert message["responseParameters"] == {
        "contentType": "application/json",
        "outputLocation": response["OutputLocation"],
    }
    assert {"awsRegion", "eventTime", "receivedTime"} <= set(message)
    assert json.loads(_read(emulator, response["OutputLocation"])) == {"job_id": "job-ok", "ok": True}


def test_container_rejection_goes_to_the_error_topic_with_the_reason(stack) -> None:
    _, emulator, _, messaging = stack
    response = _invoke(stack, "job-bad", {"job_id": "job-bad", "description": "#corrupt#"})
    topic, message = _notification(stack, "job-bad")
    assert topic == messaging.error_topic_arn
    assert message["invocationStatus"] == "Failed"
    assert "(400)" in message["failureReason"] and "not valid JSON" in message["failureReason"]
    assert message["responseParameters"]["failureLocation"] == response["FailureLocation"]
    assert b"not valid JSON" in _read(emulator, response["FailureLocation"])
    assert not _Model.received[-1].endswith(b"}")  # the container really got the truncated body


def test_missing_input_fails_the_invocation(stack) -> None:
    runtime, _, names, _ = stack
    runtime.invoke_endpoint_async(
        EndpointName=ENDPOINT,
        InputLocation=f"s3://{names.inference_bucket}/requests/nothing-here.json",
        InferenceId="job-missing",
        ContentType="application/json",
    )
    _, message = _notification(stack, "job-missing")
    assert message["invocationStatus"] == "Failed"
    assert "Failed to download" in message["failureReason"]


def test_unknown_endpoint_is_a_validation_error(stack) -> None:
    runtime, _, names, _ = stack
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint_async(
            EndpointName="no-such-endpoint",
            InputLocation=f"s3://{names.inference_bucket}/requests/x.json",
            ContentType="application/json",
        )


@pytest.mark.parametrize("length", ["-1", "abc"])
def test_bad_content_length_is_400_at_once(stack, length) -> None:
    runtime = stack[0]
    request = f"POST /endpoints/{ENDPOINT}/async-invocations HTTP/1.1\r\nContent-Length: {length}\r\n\r\n"
    head, body = raw_request(runtime.meta.endpoint_url, request.encode())
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body) == {"__type": "ValidationError", "message": "invalid Content-Length"}
