"""The SageMaker async endpoint on this machine: one stand-in for the local stack and the in-process
workflow (tests, benchmarks) alike, doing what SageMaker does.

In order: accept InvokeEndpointAsync (202 with the output and failure locations; an unknown
endpoint name is a ValidationError), read the input from S3, hand it to the model, write the
response to `<S3OutputPath>/<inference id>.out` (or the error to the failure path), and publish the
async notification JSON to the success or error SNS topic. The topics feed the callback queue with
raw message delivery, as the stack subscribes it (local/resources.py `create_messaging`).

Two fronts take invocations: an HTTP server speaking the sagemaker-runtime API (the local stack
points AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME at it) and moto's own InvokeEndpointAsync, patched while
`installed` (in-process). Two models answer them: the real container over HTTP
(`ContainerModel`), or placeholder media (local/placeholder_model.py). Invocations are completed by
workers (`start`, MaxConcurrentInvocationsPerInstance for one instance), by a timer (`auto_delay_s`),
or by hand (`succeed`, `fail`, `notify`: the workflow tests).

Fault injection (off by default): `refusal` answers InvokeEndpointAsync with an error; with
`corrupt_marker` set, `ContainerModel` sends a request whose input contains that text truncated, so
the real container rejects it and the real error notification flows back.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from lambdas.common.contract import ASYNC_FAILURE_PREFIX, ASYNC_OUTPUT_PREFIX
from local.account import ACCOUNT, REGION
from local.http_server import (
    BackgroundHttpServer,
    BadContentLength,
    QuietHandler,
    drain,
    read_body,
    send_json,
)
from local.resources import Messaging

log = logging.getLogger(__name__)

# InvokeEndpointAsync carries its payload in S3; a body sent here is read and dropped, up to this size.
MAX_BODY_BYTES = 1024 * 1024
_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/async-invocations$")


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an S3 object URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass(frozen=True)
class EndpointConfig:
    endpoint_name: str
    output_path: str  # AsyncInferenceConfig.OutputConfig.S3OutputPath
    failure_path: str  # ... .S3FailurePath
    success_topic_arn: str
    error_topic_arn: str
    invocation_timeout_s: int = 900

    @classmethod
    def of_stack(cls, endpoint_name: str, scratch_bucket: str, messaging: Messaging) -> EndpointConfig:
        """As the stack configures the endpoint: output and failure paths in the scratch bucket, the
        notification topics that feed the callback queue."""
        paths = (
            f"s3://{scratch_bucket}/{prefix.rstrip('/')}"
            for prefix in (ASYNC_OUTPUT_PREFIX, ASYNC_FAILURE_PREFIX)
        )
        return cls(endpoint_name, *paths, messaging.success_topic_arn, messaging.error_topic_arn)


@dataclass(frozen=True)
class Invocation:
    endpoint_name: str
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    content_type: str = "application/json"
    accept: str | None = None
    received_time: str = field(default_factory=iso_now)
    invoked_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    content_type: str
    body: bytes
    failure_reason: str | None = None


def failure(reason: str) -> Outcome:
    return Outcome(False, "application/json", json.dumps({"error": reason}).encode(), reason)


# The model: (invocation, request payload) -> its answer. The container writes the media itself.
Model = Callable[[Invocation, bytes], Outcome]
# What happens to a published notification in-process (the callback's queue polled at once).
Delivery = Callable[[], Any]


class AsyncEndpoint:
    def __init__(self, config: EndpointConfig, s3: Any, sns: Any, model: Model) -> None:
        self.config = config
        self.model = model
        self._s3 = s3
        self._sns = sns
        self.invocations: list[Invocation] = []
        self.refusal: tuple[int, str, str] | None = None  # (status, error type, message) for every invoke
        self.auto_delay_s: float | None = None  # complete each invocation after this long
        self.duplicate_notifications = False  # with auto_delay_s: publish each success twice
        self.deliver: Delivery | None = None  # None: a poller consumes the callback queue
        self.callback_responses: list[Any] = []
        self.inference_seconds = 0.0  # wall time between invocation and notification, summed
        self._new = threading.Condition()
        self._queue: queue.Queue[Invocation | None] = queue.Queue()
        self._workers: list[threading.Thread] = []

    # --- InvokeEndpointAsync (both fronts) ------------------------------------------------------

    def invoke(
        self,
        endpoint_name: str,
        input_location: str | None,
        inference_id: str | None,
        content_type: str | None,
        accept: str | None = None,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(status, headers, JSON body) of the sagemaker-runtime answer."""
        if self.refusal:
            status, kind, message = self.refusal
            return status, {"x-amzn-ErrorType": kind}, {"__type": kind, "message": message}
        if endpoint_name != self.config.endpoint_name:
            message = f"Endpoint {endpoint_name} of account {ACCOUNT} not found."
            return (
                400,
                {"x-amzn-ErrorType": "ValidationError"},
                {"__type": "ValidationError", "message": message},
            )
        if not input_location or not input_location.startswith("s3://"):
            message = "InputLocation must be an S3 URI"
            return (
                400,
                {"x-amzn-ErrorType": "ValidationError"},
                {"__type": "ValidationError", "message": message},
            )
        inference_id = inference_id or str(uuid.uuid4())
        invocation = Invocation(
            endpoint_name=endpoint_name,
            inference_id=inference_id,
            input_location=input_location,
            output_location=f"{self.config.output_path.rstrip('/')}/{inference_id}.out",
            failure_location=f"{self.config.failure_path.rstrip('/')}/{inference_id}.out",
            content_type=content_type or "application/octet-stream",
            accept=accept,
        )
        with self._new:
            self.invocations.append(invocation)
            self._new.notify_all()
        if self._workers:
            self._queue.put(invocation)
        elif self.auto_delay_s is not None:
            threading.Thread(target=self._complete_later, args=(invocation,), daemon=True).start()
        locations = {
            "OutputLocation": invocation.output_location,
            "FailureLocation": invocation.failure_location,
        }
        headers = {f"X-Amzn-SageMaker-{k}": v for k, v in locations.items()}
        return 202, headers, {"InferenceId": inference_id, **locations}

    @contextmanager
    def installed(self) -> Iterator[AsyncEndpoint]:
        """moto's InvokeEndpointAsync (in-process `mock_aws`) answers through this endpoint."""
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        endpoint = self

        def invoke_endpoint_async(self: Any) -> tuple[int, dict, str]:
            status, headers, body = endpoint.invoke(
                self.path.split("/")[2],
                self.headers.get("X-Amzn-SageMaker-InputLocation"),
                self.headers.get("X-Amzn-SageMaker-Inference-Id"),
                self.headers.get("X-Amzn-SageMaker-Content-Type"),
                self.headers.get("X-Amzn-SageMaker-Accept"),
            )
            return status, {**headers, "status": str(status)}, json.dumps(body)

        original = SageMakerRuntimeResponse.invoke_endpoint_async
        SageMakerRuntimeResponse.invoke_endpoint_async = invoke_endpoint_async
        try:
            yield self
        finally:
            SageMakerRuntimeResponse.invoke_endpoint_async = original

    # --- completing invocations ---------------------------------------------------------------

    def start(self, workers: int = 1) -> None:
        """Complete invocations in the background, `workers` at a time (one instance's
        MaxConcurrentInvocationsPerInstance; the container itself renders one at a time)."""
        self._workers = [
            threading.Thread(target=self._work, name=f"endpoint-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=self.config.invocation_timeout_s)

    def complete(self, invocation: Invocation) -> Any:
        """What SageMaker does with one queued invocation: the model's answer to S3, the notification."""
        outcome = self.render(invocation)
        return self.notify(invocation, self.message(invocation, outcome))

    def render(self, invocation: Invocation, model: Model | None = None) -> Outcome:
        """The model's answer, written to the output (or failure) location."""
        try:
            bucket, key = split_s3_uri(invocation.input_location)
            payload = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # SageMaker reports unreadable input as a failed invocation
            outcome = failure(f"ClientError: Failed to download data from {invocation.input_location}: {exc}")
        else:
            outcome = (model or self.model)(invocation, payload)
        location = invocation.output_location if outcome.ok else invocation.failure_location
        bucket, key = split_s3_uri(location)
        self._s3.put_object(Bucket=bucket, Key=key, Body=outcome.body, ContentType=outcome.content_type)
        return outcome

    def succeed(self, inference_id: str, *, write: bool = True, model: Model | None = None) -> Any:
        """Complete the invocation as a success (`write=False`: notify again, as a duplicate does)."""
        invocation = self.invocation(inference_id)
        if not write:
            return self.notify(invocation, self.success_message(invocation))
        return self.notify(invocation, self.message(invocation, self.render(invocation, model)))

    def fail(self, inference_id: str, reason: str) -> Any:
        invocation = self.invocation(inference_id)
        outcome = failure(reason)
        bucket, key = split_s3_uri(invocation.failure_location)
        self._s3.put_object(Bucket=bucket, Key=key, Body=outcome.body, ContentType=outcome.content_type)
        return self.notify(invocation, self.message(invocation, outcome))

    def notify(self, invocation: Invocation, message: dict[str, Any]) -> Any:
        """Publish the notification to its topic; in-process, `deliver` hands it to the callback."""
        topic = (
            self.config.success_topic_arn
            if message["invocationStatus"] == "Completed"
            else self.config.error_topic_arn
        )
        with self._new:
            self.inference_seconds += time.monotonic() - invocation.invoked_at
        self._sns.publish(TopicArn=topic, Message=json.dumps(message))
        if self.deliver is None:
            return None
        response = self.deliver()
        self.callback_responses.append(response)
        return response

    def success_message(self, invocation: Invocation) -> dict[str, Any]:
        return self.message(invocation, Outcome(True, "application/json", b""))

    def message(self, invocation: Invocation, outcome: Outcome | None = None) -> dict[str, Any]:
        """The async inference notification (AWS docs: "Check prediction results"); without an
        outcome, a failure without a reason."""
        ok = outcome is not None and outcome.ok
        message: dict[str, Any] = {
            "awsRegion": REGION,
            "eventTime": iso_now(),
            "receivedTime": invocation.received_time,
            "invocationStatus": "Completed" if ok else "Failed",
            "requestParameters": {
                "contentType": invocation.content_type,
                "endpointName": invocation.endpoint_name,
                "inputLocation": invocation.input_location,
            },
            "inferenceId": invocation.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
        content_type = outcome.content_type if outcome else "application/json"
        if ok:
            message["responseParameters"] = {
                "contentType": content_type,
                "outputLocation": invocation.output_location,
            }
        else:
            if outcome is not None:
                message["failureReason"] = outcome.failure_reason
            message["responseParameters"] = {
                "contentType": content_type,
                "failureLocation": invocation.failure_location,
            }
        return message

    # --- waiting for invocations ----------------------------------------------------------------

    def wait_for_invocation(self, inference_id: str, timeout_s: float = 20) -> Invocation:
        deadline = time.monotonic() + timeout_s
        with self._new:
            while True:
                for invocation in self.invocations:
                    if invocation.inference_id == inference_id:
                        return invocation
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no invocation for {inference_id} within {timeout_s}s")
                self._new.wait(remaining)

    def invocation(self, inference_id: str) -> Invocation:
        return next(i for i in self.invocations if i.inference_id == inference_id)

    def _work(self) -> None:
        while (invocation := self._queue.get()) is not None:
            try:
                self.complete(invocation)
            except Exception:
                log.exception("endpoint: inference %s could not be processed", invocation.inference_id)

    def _complete_later(self, invocation: Invocation) -> None:
        time.sleep(self.auto_delay_s or 0)
        self.complete(invocation)
        if self.duplicate_notifications:
            self.succeed(invocation.inference_id, write=False)


class ContainerModel:
    """The real container behind the endpoint: POST /invocations (it writes the media to S3 itself
    and answers with the manifest)."""

    def __init__(self, container_url: str, timeout_s: float = 900, corrupt_marker: str | None = None) -> None:
        self.container_url = container_url
        self.timeout_s = timeout_s
        self.corrupt_marker = corrupt_marker
        self._http = requests.Session()

    def __call__(self, invocation: Invocation, payload: bytes) -> Outcome:
        if self.corrupt_marker and self.corrupt_marker.encode() in payload:
            log.warning("endpoint: fault injection: sending a truncated request to the container")
            payload = payload[: len(payload) // 2]
        headers = {"Content-Type": invocation.content_type}
        if invocation.accept:
            headers["Accept"] = invocation.accept
        try:
            response = self._http.post(
                f"{self.container_url}/invocations", data=payload, headers=headers, timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            return failure(f"ModelError: the model container could not be reached: {exc}")
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        if response.status_code != 200:
            kind = "client" if response.status_code < 500 else "server"
            reason = (
                f"ClientError: Received {kind} error ({response.status_code}) from model "
                f"with message {json.dumps(response.text[:1000])}"
            )
            return Outcome(False, content_type, response.content, reason)
        return Outcome(True, content_type, response.content)


class _RequestHandler(QuietHandler):
    endpoint: AsyncEndpoint
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        try:
            read_body(self, MAX_BODY_BYTES)  # the payload travels through S3; a body here is ignored
        except BadContentLength as exc:
            self._reply(
                exc.status,
                {"x-amzn-ErrorType": "ValidationError"},
                {"__type": "ValidationError", "message": exc.message},
            )
            drain(self)
            return
        found = _PATH.match(self.path.split("?")[0])
        if not found:
            error = {"__type": "UnknownOperationException", "message": "Unknown operation"}
            self._reply(404, {"x-amzn-ErrorType": error["__type"]}, error)
            return
        self._reply(
            *self.endpoint.invoke(
                found.group("name"),
                self.headers.get("X-Amzn-SageMaker-InputLocation"),
                self.headers.get("X-Amzn-SageMaker-Inference-Id"),
                self.headers.get("X-Amzn-SageMaker-Content-Type"),
                self.headers.get("X-Amzn-SageMaker-Accept"),
            )
        )

    def _reply(self, status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
        send_json(self, status, body, headers)


class AsyncEndpointServer(BackgroundHttpServer):
    """The sagemaker-runtime API on a local port (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points here)."""

    def __init__(self, endpoint: AsyncEndpoint, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(_RequestHandler, {"endpoint": endpoint}, port=port, host=host, name="endpoint-http")
