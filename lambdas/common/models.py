"""Domain models shared by the API, the workflow tasks and the callback."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, get_args
from uuid import uuid4

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from .settings import get_settings
from .url_safety import MAX_URL_CHARS, UnsafeUrl, check_submitted_url

MAX_DESCRIPTION_CHARS = 1_000
MAX_PROMPT_CHARS = 500
MAX_LYRICS_CHARS = 5_000
MAX_TITLE_CHARS = 120
AudioFormat = Literal["wav", "mp3", "flac"]


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC timestamp with milliseconds, as the job rows store it; sorts lexicographically."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return utc_timestamp(datetime.now(UTC))


def new_job_id() -> str:
    return str(uuid4())


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"
    CANCELED = "canceled"


# The status rules, in one place: a job runs while UNFINISHED; one that ended in ENDED_UNCHARGED
# gives its reservation back, a PROCESSED one has had it captured.
UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
ENDED_UNCHARGED = frozenset({JobStatus.FAILED, JobStatus.CANCELED})


class Reservation(StrEnum):
    """The job's price on the user's row: held from submission until captured or released once."""

    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_control_chars(value: str) -> str:
    # Newlines and tabs are fine in lyrics; other control characters only hurt logs and prompts.
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _safe_webhook_url(value: str) -> str:
    # Checked again, on the resolved address, at every delivery (lambdas/common/url_safety.py).
    try:
        return check_submitted_url(value, get_settings().webhook_allow_http_loopback)
    except UnsafeUrl as exc:
        raise ValueError(f"webhook_url {exc}") from None


# Text that reaches prompts, logs and the UI: no control characters except line breaks and tabs.
SafeText = Annotated[str, AfterValidator(_no_control_chars)]


class _SongOptions(_StrictModel):
    instrumental: bool = False
    duration_s: int = Field(180, ge=10, le=600)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    # null = the configured checkpoint's recommended values (ACE-Step turbo: 8 steps, no guidance;
    # base: 50 steps, guidance 7.0); ranges as in ACE-Step 1.5's INFERENCE.md.
    guidance_scale: float | None = Field(None, ge=1.0, le=15.0)
    inference_steps: int | None = Field(None, ge=1, le=100)
    # Music metadata (the container applies the same rules: song_model/schemas.py).
    bpm: int | None = Field(None, ge=30, le=300)
    key: str | None = Field(None, pattern=r"^[A-G][#b]? (major|minor)$", examples=["C major", "F# minor"])
    time_signature: Literal[2, 3, 4, 6] | None = None
    vocal_language: str | None = Field(None, pattern=r"^[a-z]{2}$", examples=["en"])
    formats: list[AudioFormat] = Field(default_factory=lambda: ["wav"], min_length=1, max_length=3)
    title: SafeText | None = Field(None, min_length=1, max_length=MAX_TITLE_CHARS)
    webhook_url: Annotated[str, AfterValidator(_safe_webhook_url)] | None = Field(
        None,
        max_length=MAX_URL_CHARS,
        description="https URL that receives the song's lifecycle events, signed per Standard Webhooks",
    )

    @field_validator("formats")
    @classmethod
    def _unique_formats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("formats must not repeat")
        return value


class DescriptionRequest(_SongOptions):
    mode: Literal["description"]
    description: SafeText = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)


class CustomLyricsRequest(_SongOptions):
    mode: Literal["custom_lyrics"]
    prompt: SafeText = Field(min_length=3, max_length=MAX_PROMPT_CHARS)
    lyrics: SafeText = Field(min_length=1, max_length=MAX_LYRICS_CHARS)


class DescribedLyricsRequest(_SongOptions):
    mode: Literal["described_lyrics"]
    prompt: SafeText = Field(min_length=3, max_length=MAX_PROMPT_CHARS)
    described_lyrics: SafeText = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)


SongRequest = Annotated[
    DescriptionRequest | CustomLyricsRequest | DescribedLyricsRequest,
    Field(discriminator="mode"),
]
# The `mode` values, read from the models so they cannot drift apart.
SONG_MODES: tuple[str, ...] = tuple(
    get_args(m.model_fields["mode"].annotation)[0]
    for m in (DescriptionRequest, CustomLyricsRequest, DescribedLyricsRequest)
)


class JobError(BaseModel):
    code: str
    message: str


class AudioFile(BaseModel):
    format: AudioFormat
    key: str


class JobResult(BaseModel):
    audio: list[AudioFile]
    cover_key: str | None = None
    lyrics: str | None = None
    prompt: str
    categories: list[str] = Field(default_factory=list)
    seed: int
    duration_s: float
    sample_rate: int | None = None
    timings: dict[str, float] = Field(default_factory=dict)


class Job(BaseModel):
    """One row of the jobs table (the API shows only some of it: see lambdas/api/schemas.py)."""

    job_id: str
    user_id: str
    status: JobStatus
    stage: str
    request: dict
    created_at: str
    updated_at: str
    execution_arn: str | None = None
    result: JobResult | None = None
    error: JobError | None = None
    charged: bool = False
    price_credits: int | None = None  # reserved at submission (lambdas/common/pricing.py)
    reservation: Reservation | None = None
    # Workflow bookkeeping.
    slot_token: str | None = None  # token of the AcquireSlot wait, while queued
    task_token: str | None = None  # token of the Generate wait, while processing
    inference_input: str | None = None  # s3:// location of the request the endpoint reads
    invocation_started_at: str | None = None  # set once, before the one InvokeEndpointAsync
    started_at: str | None = None  # queued -> processing
    finished_at: str | None = None  # processing -> processed


class User(BaseModel):
    user_id: str
    credits: int
    reserved_credits: int = 0  # the prices of the user's songs in flight
    created_at: str

    @property
    def available_credits(self) -> int:
        return self.credits - self.reserved_credits
