"""The local SageMaker async endpoint: InvokeEndpointAsync in, the real container behind it.

What SageMaker does for an async endpoint, in order: accept the request (202 with the output and
failure locations), queue it, read the input from S3, POST it to the container's /invocations, write
the response to `<S3OutputPath>/<inference id>.out` (or the error to the failure path), and publish
the async notification JSON to the success or error SNS topic. `workers` plays
MaxConcurrentInvocationsPerInstance for one instance.

Fault injection (off by default, for tests of the failure path): with `corrupt_marker` set, a request
whose input contains that text reaches the container with a truncated body, so the real container
rejects it and the real error notification flows back.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from local.account import REGION
from local.http_server import BackgroundHttpServer, BadContentLength, drain, read_body

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
    container_url: str
    output_path: str  # AsyncInferenceConfig.OutputConfig.S3OutputPath
    failure_path: str  # ... .S3FailurePath
    success_topic_arn: str
    error_topic_arn: str
    workers: int = 1
    invocation_timeout_s: int = 900
    corrupt_marker: str | None = None


@dataclass(frozen=True)
class Invocation:
    inference_id: str
    input_location: str
    content_type: str
    accept: str | None
    received_time: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    content_type: str
    body: bytes
    failure_reason: str | None = None


class AsyncEndpoint:
    """The queue and the workers; `submit` is what the HTTP front calls."""

    def __init__(self, config: EndpointConfig, s3: Any, sns: Any) -> None:
        self.config = config
        self._s3 = s3
        self._sns = sns
        self._queue: queue.Queue[Invocation | None] = queue.Queue()
        self._workers = [
            threading.Thread(target=self._work, name=f"endpoint-worker-{i}", daemon=True)
            for i in range(config.workers)
        ]
        self._http = requests.Session()

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=self.config.invocation_timeout_s)

    def output_location(self, inference_id: str) -> str:
        return f"{self.config.output_path.rstrip('/')}/{inference_id}.out"

    def failure_location(self, inference_id: str) -> str:
        return f"{self.config.failure_path.rstrip('/')}/{inference_id}.out"

    def submit(self, invocation: Invocation) -> None:
        self._queue.put(invocation)

    def _work(self) -> None:
        while (invocation := self._queue.get()) is not None:
            try:
                self.process(invocation)
            except Exception:
                log.exception("endpoint: inference %s could not be processed", invocation.inference_id)

    def process(self, invocation: Invocation) -> None:
        """Run one queued request to completion: container call, S3 output, SNS notification."""
        outcome = self._invoke_container(invocation)
        if outcome.ok:
            location = self.output_location(invocation.inference_id)
        else:
            location = self.failure_location(invocation.inference_id)
        bucket, key = split_s3_uri(location)
        self._s3.put_object(Bucket=bucket, Key=key, Body=outcome.body, ContentType=outcome.content_type)
        self._notify(invocation, outcome, location)

    def _invoke_container(self, invocation: Invocation) -> Outcome:
        try:
            bucket, key = split_s3_uri(invocation.input_location)
            payload = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # SageMaker reports unreadable input as a failed invocation
            return _failure(f"ClientError: Failed to download data from {invocation.input_location}: {exc}")
        payload = self._maybe_corrupt(payload)
        headers = {"Content-Type": invocation.content_type}
        if invocation.accept:
            headers["Accept"] = invocation.accept
        try:
            response = self._http.post(
                f"{self.config.container_url}/invocations",
                data=payload,
                headers=headers,
                timeout=self.config.invocation_timeout_s,
            )
        except requests.RequestException as exc:
            return _failure(f"ModelError: the model container could not be reached: {exc}")
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        if response.status_code != 200:
            kind = "client" if response.status_code < 500 else "server"
            reason = (
                f"ClientError: Received {kind} error ({response.status_code}) from model "
                f"with message {json.dumps(response.text[:1000])}"
            )
            return Outcome(False, content_type, response.content, reason)
        return Outcome(True, content_type, response.content)

    def _maybe_corrupt(self, payload: bytes) -> bytes:
        marker = self.config.corrupt_marker
        if marker and marker.encode() in payload:
            log.warning("endpoint: fault injection: sending a truncated request to the container")
            return payload[: len(payload) // 2]
        return payload

    def _notify(self, invocation: Invocation, outcome: Outcome, location: str) -> None:
        message = notification(self.config.endpoint_name, invocation, outcome, location)
        topic = self.config.success_topic_arn if outcome.ok else self.config.error_topic_arn
        self._sns.publish(TopicArn=topic, Message=json.dumps(message))


def notification(
    endpoint_name: str, invocation: Invocation, outcome: Outcome, location: str
) -> dict[str, Any]:
    """The SageMaker async inference notification (AWS docs: "Check prediction results")."""
    message: dict[str, Any] = {
        "awsRegion": REGION,
        "eventTime": iso_now(),
        "receivedTime": invocation.received_time,
        "invocationStatus": "Completed" if outcome.ok else "Failed",
        "requestParameters": {
            "contentType": invocation.content_type,
            "endpointName": endpoint_name,
            "inputLocation": invocation.input_location,
        },
        "inferenceId": invocation.inference_id,
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
    }
    if outcome.ok:
        message["responseParameters"] = {"contentType": outcome.content_type, "outputLocation": location}
    else:
        message["failureReason"] = outcome.failure_reason
        message["responseParameters"] = {"contentType": outcome.content_type, "failureLocation": location}
    return message


def _failure(reason: str) -> Outcome:
    return Outcome(False, "application/json", json.dumps({"error": reason}).encode(), reason)


class _RequestHandler(BaseHTTPRequestHandler):
    endpoint: AsyncEndpoint
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        try:
            read_body(self, MAX_BODY_BYTES)  # the payload travels through S3; a body here is ignored
        except BadContentLength as exc:
            self._reply(exc.status, {"__type": "ValidationError", "message": exc.message})
            drain(self)
            return
        found = _PATH.match(self.path.split("?")[0])
        if not found:
            self._reply(404, {"__type": "UnknownOperationException", "message": "Unknown operation"})
            return
        name = found.group("name")
        if name != self.endpoint.config.endpoint_name:
            message = f"Endpoint {name} of account 123456789012 not found."
            self._reply(400, {"__type": "ValidationError", "message": message})
            return
        input_location = self.headers.get("X-Amzn-SageMaker-InputLocation")
        if not input_location or not input_location.startswith("s3://"):
            self._reply(400, {"__type": "ValidationError", "message": "InputLocation must be an S3 URI"})
            return
        invocation = Invocation(
            inference_id=self.headers.get("X-Amzn-SageMaker-Inference-Id") or str(uuid.uuid4()),
            input_location=input_location,
            content_type=self.headers.get("X-Amzn-SageMaker-Content-Type") or "application/octet-stream",
            accept=self.headers.get("X-Amzn-SageMaker-Accept"),
            received_time=iso_now(),
        )
        self.endpoint.submit(invocation)
        output = self.endpoint.output_location(invocation.inference_id)
        failure = self.endpoint.failure_location(invocation.inference_id)
        self._reply(
            202,
            {"InferenceId": invocation.inference_id, "OutputLocation": output, "FailureLocation": failure},
            {"X-Amzn-SageMaker-OutputLocation": output, "X-Amzn-SageMaker-FailureLocation": failure},
        )

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        if status >= 400:
            self.send_header("x-amzn-ErrorType", body["__type"])
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("endpoint %s - %s", self.address_string(), format % args)


class AsyncEndpointServer(BackgroundHttpServer):
    """The sagemaker-runtime API on a local port (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points here)."""

    def __init__(self, endpoint: AsyncEndpoint, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(_RequestHandler, {"endpoint": endpoint}, port=port, host=host, name="endpoint-http")

    @property
    def url(self) -> str:
        return self.base_url
