"""Contracts of the async SageMaker round trip: the request we write, the manifest the container
returns, and the notification SageMaker publishes to SNS when an async invocation ends."""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from .contract import REQUESTS_PREFIX, SCRATCH_MEDIA_PREFIX
from .measurements import TakeAnalysis, TakeScores
from .models import AudioFormat, Job
from .transcription import audio_formats


def request_key(job_id: str) -> str:
    return f"{REQUESTS_PREFIX}{job_id}.json"


def scratch_media_prefix(job_id: str) -> str:
    """Where the container writes a job's media in the inference bucket."""
    return f"{SCRATCH_MEDIA_PREFIX}{job_id}/"


def build_request(job: Job, bucket: str) -> dict:
    """The container's request: the validated POST body plus the job id and the output location.

    Audio-in modes: `source` becomes where the container reads the track (resolved by the API at
    submission) and the length it was measured at. A persona's `persona_id` becomes its stored
    reference clip, checksum and style (`persona`).
    """
    # The webhook is the API's business, not the GPU's.
    request = {
        **{k: v for k, v in job.request.items() if k != "webhook_url"},
        # The container renders audio; MIDI ("mid") is the transcriber's, after it.
        "formats": audio_formats(list(job.request.get("formats") or ["wav"])),
        "job_id": job.job_id,
        "output": {"bucket": bucket, "prefix": scratch_media_prefix(job.job_id)},
    }
    if job.source is not None:
        request["source"] = job.source.model_dump(exclude_none=True)
    if job.persona is not None:
        request["persona"] = job.persona.container_request()
    return request


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.lstrip("/"):
        raise ValueError(f"not an s3:// object URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


# --- the manifest (the container's response body, written by SageMaker to the output path) ---


class _Tolerant(BaseModel):
    # The container may add fields; the workflow reads only what it needs.
    model_config = ConfigDict(extra="ignore")


class _ManifestObject(_Tolerant):
    """A file the container wrote to the scratch bucket."""

    bucket: str
    key: str
    content_type: str
    size_bytes: int = Field(ge=0)


class ManifestAudio(_ManifestObject):
    format: AudioFormat
    track: str | None = Field(None, pattern=r"^[a-z_]{1,32}$")  # stems: the track this file holds
    take: int = Field(1, ge=1, le=4)  # variants: the take (1-based) this file holds


class ManifestCover(_ManifestObject):
    content_type: Literal["image/png"] = "image/png"
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class ManifestLyricsTiming(_ManifestObject):
    """A take's timed lyrics: an LRC file beside its audio."""

    content_type: Literal["text/plain; charset=utf-8"] = "text/plain; charset=utf-8"
    lines: int = Field(ge=0)
    measured_lines: int = Field(ge=0)


class ManifestTake(_Tolerant):
    """A take's measurements (docs/container.md, Measuring)."""

    take: int = Field(ge=1, le=4)
    seed: int
    rank: int = Field(ge=1, le=4)  # 1 = best
    analysis: TakeAnalysis
    scores: TakeScores
    lyrics_timing: ManifestLyricsTiming | None = None  # vocal takes, when scoring ran
    gain_db: float = 0.0


class ManifestTimings(_Tolerant):
    lyrics_s: float = 0.0
    music_s: float = 0.0
    cover_s: float = 0.0
    measure_s: float = 0.0
    upload_s: float = 0.0
    total_s: float = 0.0


class ManifestPersona(_Tolerant):
    """The persona's clip the container conditioned on: its checksum and the seconds it heard."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    reference_s: float = Field(gt=0)


class Manifest(_Tolerant):
    job_id: str
    audio: list[ManifestAudio] = Field(min_length=1)
    cover: ManifestCover | None = None
    sample_rate: int = Field(gt=0)
    duration_s: float = Field(gt=0)
    lyrics: str | None = None
    prompt: str
    categories: list[str] = Field(default_factory=list)
    seed: int  # take 1's
    seeds: list[int] = Field(default_factory=list, max_length=4)  # one per take (absent: one take)
    engine: str
    timings: ManifestTimings = Field(default_factory=ManifestTimings)
    persona: ManifestPersona | None = None
    # One per take, in take order; the workflow checks they match the audio (lambdas/workflow/publish.py).
    takes: list[ManifestTake] = Field(min_length=1, max_length=4)
    best_take: int = Field(ge=1, le=4)

    @property
    def take_seeds(self) -> list[int]:
        return self.seeds or [self.seed]


# --- SageMaker async inference notification ---
# https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html


class _Camel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class NotificationRequestParameters(_Camel):
    endpoint_name: str | None = Field(None, alias="endpointName")
    input_location: str | None = Field(None, alias="inputLocation")
    content_type: str | None = Field(None, alias="contentType")


class NotificationResponseParameters(_Camel):
    output_location: str | None = Field(None, alias="outputLocation")
    failure_location: str | None = Field(None, alias="failureLocation")
    content_type: str | None = Field(None, alias="contentType")


class AsyncInferenceNotification(_Camel):
    inference_id: str = Field(alias="inferenceId", min_length=1)
    invocation_status: Literal["Completed", "Failed"] = Field(alias="invocationStatus")
    failure_reason: str | None = Field(None, alias="failureReason")
    request_parameters: NotificationRequestParameters | None = Field(None, alias="requestParameters")
    response_parameters: NotificationResponseParameters | None = Field(None, alias="responseParameters")
    event_time: str | None = Field(None, alias="eventTime")
    received_time: str | None = Field(None, alias="receivedTime")
    event_name: str | None = Field(None, alias="eventName")

    @property
    def succeeded(self) -> bool:
        return self.invocation_status == "Completed"

    @property
    def output_location(self) -> str | None:
        return self.response_parameters.output_location if self.response_parameters else None


def parse_notification(body: str) -> AsyncInferenceNotification:
    """An SQS message body: the notification itself (raw delivery) or wrapped in an SNS envelope."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        data = json.loads(data["Message"])
    return AsyncInferenceNotification.model_validate(data)
