"""A stand-in for the async SageMaker endpoint in the in-process workflow (local/workflow_sandbox.py),
for the workflow tests and the workflow benchmark; the media it writes are placeholder bytes.

It intercepts InvokeEndpointAsync in moto, and on `succeed`/`fail` (or by itself in `auto`
mode) does what SageMaker and the container do: read the request from S3, write the media and
the manifest, and deliver the notification to the real inference_callback handler as an SQS
batch of one (raw message delivery, as the stack subscribes the queue to the topics).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from lambdas.inference_callback import handler as callback
from local.lambda_routing import LambdaContext

SAMPLE_RATE = 48_000
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
# Changes the manifest the endpoint writes (a faulty container): (manifest, request) -> manifest.
Tamper = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass
class Invocation:
    endpoint_name: str
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    invoked_at: float = field(default_factory=time.monotonic)


class FakeAsyncEndpoint:
    def __init__(self, output_bucket: str) -> None:
        self.output_bucket = output_bucket
        self.invocations: list[Invocation] = []
        self.reject_with: str | None = None  # InvokeEndpointAsync fails with this message
        self.unavailable = False  # InvokeEndpointAsync answers 503 ServiceUnavailable
        self.auto_delay_s: float | None = None  # auto mode: complete each invocation after this
        self.duplicate_notifications = False  # auto mode: deliver each success twice
        self.callback_responses: list[dict[str, Any]] = []
        self.inference_seconds = 0.0  # wall time between invocation and notification, summed
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)

    # --- what moto's InvokeEndpointAsync does while this fake is installed ---

    def _invoke(self, endpoint_name: str, input_location: str, inference_id: str) -> tuple[int, dict, str]:
        if self.reject_with:
            body = json.dumps({"__type": "ValidationError", "message": self.reject_with})
            return 400, {"x-amzn-ErrorType": "ValidationError", "status": "400"}, body
        if self.unavailable:
            body = json.dumps({"__type": "ServiceUnavailable", "message": "Service is unavailable"})
            return 503, {"x-amzn-ErrorType": "ServiceUnavailable", "status": "503"}, body
        invocation = Invocation(
            endpoint_name=endpoint_name,
            inference_id=inference_id,
            input_location=input_location,
            output_location=f"s3://{self.output_bucket}/async-output/{uuid.uuid4()}.out",
            failure_location=f"s3://{self.output_bucket}/async-failures/{uuid.uuid4()}-error.out",
        )
        with self._new:
            self.invocations.append(invocation)
            self._new.notify_all()
        if self.auto_delay_s is not None:
            threading.Thread(target=self._auto_complete, args=(invocation,), daemon=True).start()
        headers = {
            "X-Amzn-SageMaker-OutputLocation": invocation.output_location,
            "X-Amzn-SageMaker-FailureLocation": invocation.failure_location,
        }
        return 200, headers, json.dumps({"InferenceId": inference_id})

    def _auto_complete(self, invocation: Invocation) -> None:
        time.sleep(self.auto_delay_s or 0)
        self.succeed(invocation.inference_id)
        if self.duplicate_notifications:
            self.succeed(invocation.inference_id, write=False)

    @contextmanager
    def installed(self) -> Iterator[FakeAsyncEndpoint]:
        from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

        fake = self

        def invoke_endpoint_async(self: Any) -> tuple[int, dict, str]:
            return fake._invoke(
                endpoint_name=self.path.split("/")[2],
                input_location=self.headers.get("X-Amzn-SageMaker-InputLocation"),
                inference_id=self.headers.get("X-Amzn-SageMaker-Inference-Id"),
            )

        original = SageMakerRuntimeResponse.invoke_endpoint_async
        SageMakerRuntimeResponse.invoke_endpoint_async = invoke_endpoint_async
        try:
            yield self
        finally:
            SageMakerRuntimeResponse.invoke_endpoint_async = original

    # --- test controls ---

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

    def succeed(
        self, inference_id: str, *, write: bool = True, tamper: Tamper | None = None
    ) -> dict[str, Any]:
        """Generate the song (media + manifest in S3) and notify success; `tamper` changes the
        manifest first, as a faulty container would have written it."""
        invocation = self.invocation(inference_id)
        if write:
            self._write_outputs(invocation, tamper)
        return self.notify(invocation, self._success_message(invocation))

    def fail(self, inference_id: str, reason: str) -> dict[str, Any]:
        invocation = self.invocation(inference_id)
        s3 = boto3.client("s3")
        bucket, key = _split(invocation.failure_location)
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({"error": reason}).encode())
        message = self._message(invocation, "Failed") | {"failureReason": reason}
        return self.notify(invocation, message)

    def notify(self, invocation: Invocation, message: dict[str, Any]) -> dict[str, Any]:
        """Deliver one notification to the callback handler, the way the SQS event source does."""
        with self._lock:
            self.inference_seconds += time.monotonic() - invocation.invoked_at
        response = callback.lambda_handler(
            sqs_event([json.dumps(message)]), LambdaContext("inference-callback")
        )
        self.callback_responses.append(response)
        return response

    # --- SageMaker's and the container's side ---

    def _write_outputs(self, invocation: Invocation, tamper: Tamper | None = None) -> None:
        s3 = boto3.client("s3")
        bucket, key = _split(invocation.input_location)
        request = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        out_bucket, prefix = request["output"]["bucket"], request["output"]["prefix"]
        seed = request.get("seed") if request.get("seed") is not None else 1234
        seeds = [seed + k for k in range(int(request.get("variants", 1)))]  # the container's rule
        # Stems: one file per ordered track (one take); otherwise one per take.
        tracks = request.get("tracks") if request.get("mode") == "stems" else None
        audio = []
        for take in range(1, len(seeds) + 1):
            for track in tracks or [None]:
                for fmt in request.get("formats", ["wav"]):
                    audio.append(self._put_audio(s3, out_bucket, prefix, request["job_id"], take, track, fmt))
        cover_body = b"\x89PNG fake cover"
        s3.put_object(Bucket=out_bucket, Key=f"{prefix}cover.png", Body=cover_body, ContentType="image/png")
        manifest = {
            "job_id": request["job_id"],
            "audio": audio,
            "cover": {
                "bucket": out_bucket,
                "key": f"{prefix}cover.png",
                "content_type": "image/png",
                "width": 512,
                "height": 512,
                "size_bytes": len(cover_body),
            },
            "sample_rate": SAMPLE_RATE,
            "duration_s": float(request.get("duration_s", 180)),
            "lyrics": None if request.get("instrumental") else "[verse]\nla la la",
            "prompt": request.get("prompt") or "lofi, calm, piano",
            "categories": ["lofi", "chill", "instrumental"],
            "seed": seed,
            "seeds": seeds,
            "engine": "acestep",
            "timings": {"lyrics_s": 1.5, "music_s": 20.0, "cover_s": 0.5, "upload_s": 0.2, "total_s": 22.2},
        }
        if tamper is not None:
            manifest = tamper(manifest, request)
        out_bucket_name, out_key = _split(invocation.output_location)
        s3.put_object(Bucket=out_bucket_name, Key=out_key, Body=json.dumps(manifest).encode())

    @staticmethod
    def _put_audio(
        s3: Any, bucket: str, prefix: str, job_id: str, take: int, track: str | None, fmt: str
    ) -> dict[str, Any]:
        """One audio object under the job's scratch prefix, named as the container names it."""
        name = f"stem-{track}" if track else f"audio{'' if take == 1 else f'-take{take}'}"
        key = f"{prefix}{name}.{fmt}"
        body = f"{fmt} audio of {job_id}, take {take}, {track or 'mix'}".encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES[fmt])
        return {
            "format": fmt,
            "track": track,
            "take": take,
            "bucket": bucket,
            "key": key,
            "content_type": CONTENT_TYPES[fmt],
            "size_bytes": len(body),
        }

    def _success_message(self, invocation: Invocation) -> dict[str, Any]:
        return self._message(invocation, "Completed") | {
            "responseParameters": {
                "contentType": "application/json",
                "outputLocation": invocation.output_location,
            }
        }

    @staticmethod
    def _message(invocation: Invocation, status: str) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return {
            "awsRegion": "us-east-1",
            "eventTime": now,
            "receivedTime": now,
            "invocationStatus": status,
            "requestParameters": {
                "contentType": "application/json",
                "endpointName": invocation.endpoint_name,
                "inputLocation": invocation.input_location,
            },
            "inferenceId": invocation.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }


def sns_envelope(message: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:inference-success",
            "Message": json.dumps(message),
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }
    )


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inference-notifications",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
