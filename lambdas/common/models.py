"""Domain models shared by the API, the workflow tasks and the callback."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args
from uuid import uuid4

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

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


class JobStep(StrEnum):
    """Where a job is: queued, then generating and publishing while processing, then how it ended."""

    QUEUED = "queued"
    GENERATING = "generating"
    PUBLISHING = "publishing"
    COMPLETED = "completed"
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


# Request bodies: the schema the OpenAPI document publishes is exactly the rule enforced. Unknown
# fields are rejected and types are strict ("30" is not 30, "yes" is not true); text is taken as
# sent (no silent stripping), so a value the schema accepts is never refused after a rewrite.
class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# Text that reaches prompts, logs and the UI: no control characters (C0, DEL, C1) except line
# breaks and tabs. A JSON Schema pattern (ECMA-262, also valid for pydantic's Rust engine and
# Python `re`), so the published document states the rule clients must follow.
SAFE_TEXT_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
SafeText = Annotated[str, StringConstraints(pattern=SAFE_TEXT_PATTERN)]
# Job and upload ids (lower-case canonical UUID text): the API's path parameters and sources.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _no_repeats(value: list[str], info: ValidationInfo) -> list[str]:
    """A list whose schema says uniqueItems: a repeated item is refused, not dropped."""
    if len(set(value)) != len(value):
        raise ValueError(f"{info.field_name} must not repeat")
    return value


def _safe_webhook_url(value: str) -> str:
    # Checked again, on the resolved address, at every delivery (lambdas/common/url_safety.py).
    try:
        return check_submitted_url(value)
    except UnsafeUrl as exc:
        raise ValueError(f"webhook_url {exc}") from None


# No spaces or control characters in the schema; the full rule (https, a public address) is the
# validator's, and the sender checks the resolved address again at every delivery.
WebhookUrl = Annotated[
    str,
    StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\x00-\x20\x7F-\x9F]+$"),
    AfterValidator(_safe_webhook_url),
]


# The delivered level's bounds (the container's song_model/schemas.py Mastering applies the same).
LOUDNESS_LUFS_RANGE = (-23.0, -6.0)
TRUE_PEAK_DBTP_RANGE = (-3.0, 0.0)


class Mastering(StrictModel):
    """The level every take is delivered at (docs/container.md, Measuring)."""

    loudness_lufs: float = Field(
        -14.0,
        ge=LOUDNESS_LUFS_RANGE[0],
        le=LOUDNESS_LUFS_RANGE[1],
        description="Integrated loudness, LUFS (ITU-R BS.1770 / EBU R128)",
    )
    true_peak_dbtp: float = Field(
        -1.0, ge=TRUE_PEAK_DBTP_RANGE[0], le=TRUE_PEAK_DBTP_RANGE[1], description="True-peak ceiling, dBTP"
    )


class _RenderOptions(StrictModel):
    """Options of every mode; text modes add length, instrumental and metadata (_SongOptions)."""

    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    # null = the configured checkpoint's recommended values (ACE-Step turbo: 8 steps, no guidance;
    # base: 50 steps, guidance 7.0); ranges as in ACE-Step 1.5's INFERENCE.md.
    guidance_scale: float | None = Field(None, ge=1.0, le=15.0)
    inference_steps: int | None = Field(None, ge=1, le=100)
    formats: Annotated[list[AudioFormat], AfterValidator(_no_repeats)] = Field(
        default_factory=lambda: ["wav"], min_length=1, max_length=3, json_schema_extra={"uniqueItems": True}
    )
    title: SafeText | None = Field(None, min_length=1, max_length=MAX_TITLE_CHARS)
    # Stored with the defaults filled in, so the container is told the level explicitly.
    mastering: Mastering | None = Field(
        default_factory=Mastering,
        description=(
            "The delivered level: absent = -14 LUFS / -1 dBTP, either field may be left out; null = the "
            "model's raw level (repaint and extend keep their untouched samples bit-identical only then)"
        ),
    )
    webhook_url: WebhookUrl | None = Field(
        None,
        max_length=MAX_URL_CHARS,
        description=(
            "https URL that receives the song's lifecycle events, signed per Standard Webhooks; port "
            "443 (the default) or 8443 only, and its host must resolve to public addresses only "
            "(checked now and at every delivery)"
        ),
    )


# Takes of one request, rendered together in one GPU batch and priced each (not for stems: an
# extraction of the source would not differ between takes).
MAX_VARIANTS = 4
Variants = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_VARIANTS,
        description="Takes to render in one batch, each priced; take k uses seed + k - 1",
    ),
]


class _SongOptions(_RenderOptions):
    variants: Variants = 1
    instrumental: bool = False
    duration_s: int = Field(180, ge=10, le=600)
    # Music metadata (the container applies the same rules: song_model/schemas.py).
    bpm: int | None = Field(None, ge=30, le=300)
    key: str | None = Field(None, pattern=r"^[A-G][#b]? (major|minor)$", examples=["C major", "F# minor"])
    time_signature: Literal[2, 3, 4, 6] | None = None
    vocal_language: str | None = Field(None, pattern=r"^[a-z]{2}$", examples=["en"])


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


# --- audio-in modes: a new song made from a source track (an upload or one of the user's songs) ---

MAX_RENDER_S = 600  # the longest audio one job renders (ACE-Step 1.5's limit)
# The track classes ACE-Step 1.5's base checkpoint extracts (`track_name` of task_type extract).
StemTrack = Literal[
    "vocals",
    "backing_vocals",
    "drums",
    "bass",
    "guitar",
    "keyboard",
    "percussion",
    "strings",
    "synth",
    "fx",
    "brass",
    "woodwinds",
]


class SourceRef(StrictModel):
    """Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed songs)."""

    # The rule in the published schema too: exactly one of the two ids is given as a string.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["upload_id"], "properties": {"upload_id": {"type": "string"}}},
                {"required": ["song_id"], "properties": {"song_id": {"type": "string"}}},
            ]
        }
    )

    upload_id: str | None = Field(None, pattern=UUID_PATTERN)
    song_id: str | None = Field(None, pattern=UUID_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceRef:
        if (self.upload_id is None) == (self.song_id is None):
            raise ValueError("give exactly one of upload_id or song_id")
        return self


class _AudioInOptions(_RenderOptions):
    source: SourceRef


class _SampledFromSource(_AudioInOptions):
    """The audio-in modes that sample new audio (and so can render several takes)."""

    variants: Variants = 1


class CoverRequest(_SampledFromSource):
    """Restyle the source: same length and structure, the style of `prompt`."""

    mode: Literal["cover"]
    prompt: SafeText = Field(min_length=3, max_length=MAX_PROMPT_CHARS)
    lyrics: SafeText | None = Field(None, min_length=1, max_length=MAX_LYRICS_CHARS)
    strength: float = Field(
        0.5, ge=0.0, le=1.0, description="How closely the cover follows the source (1 = closest)"
    )


class RepaintRequest(_SampledFromSource):
    """Regenerate `start_s`..`end_s` of the source; the rest of the track stays as it was."""

    mode: Literal["repaint"]
    start_s: float = Field(ge=0.0, le=MAX_RENDER_S)
    end_s: float = Field(gt=0.0, le=MAX_RENDER_S, description="Must be after start_s and within the source")
    prompt: SafeText | None = Field(None, min_length=3, max_length=MAX_PROMPT_CHARS)
    lyrics: SafeText | None = Field(None, min_length=1, max_length=MAX_LYRICS_CHARS)

    @field_validator("end_s")
    @classmethod
    def _window(cls, end_s: float, info: ValidationInfo) -> float:
        start_s = info.data.get("start_s")
        if start_s is not None and end_s - start_s < 1.0:
            raise ValueError("must be at least 1 second after start_s")
        return end_s


class ExtendRequest(_SampledFromSource):
    """Add `add_s` seconds after the end of the source: one longer song."""

    mode: Literal["extend"]
    add_s: float = Field(ge=5.0, le=MAX_RENDER_S - 5)
    prompt: SafeText | None = Field(None, min_length=3, max_length=MAX_PROMPT_CHARS)
    lyrics: SafeText | None = Field(None, min_length=1, max_length=MAX_LYRICS_CHARS)


class StemsRequest(_AudioInOptions):
    """Split the source into `tracks`: one audio file per track."""

    mode: Literal["stems"]
    # One take only: extraction separates the source; takes would not differ.
    variants: int = Field(1, ge=1, le=1, description="Stems have one take (one file per track)")
    tracks: Annotated[list[StemTrack], AfterValidator(_no_repeats)] = Field(
        min_length=1, max_length=4, json_schema_extra={"uniqueItems": True}
    )


AudioInRequest = CoverRequest | RepaintRequest | ExtendRequest | StemsRequest
SongRequest = Annotated[
    DescriptionRequest
    | CustomLyricsRequest
    | DescribedLyricsRequest
    | CoverRequest
    | RepaintRequest
    | ExtendRequest
    | StemsRequest,
    Field(discriminator="mode"),
]
# The `mode` values, read from the models so they cannot drift apart.
SONG_MODES: tuple[str, ...] = tuple(
    get_args(m.model_fields["mode"].annotation)[0]
    for m in (
        DescriptionRequest,
        CustomLyricsRequest,
        DescribedLyricsRequest,
        CoverRequest,
        RepaintRequest,
        ExtendRequest,
        StemsRequest,
    )
)
AUDIO_IN_MODES: tuple[str, ...] = tuple(
    get_args(m.model_fields["mode"].annotation)[0]
    for m in (CoverRequest, RepaintRequest, ExtendRequest, StemsRequest)
)


class JobError(BaseModel):
    code: str
    message: str


class AudioFile(BaseModel):
    format: AudioFormat
    key: str
    track: str | None = None  # stems: which track this file holds
    take: int = 1  # variants: which take (1-based) this file holds


class JobSource(BaseModel):
    """The source of an audio-in song, resolved by the API at submission.

    `bucket`/`key` are where the container reads it; the API shows only the ids and the length.
    """

    upload_id: str | None = None
    song_id: str | None = None
    bucket: str
    key: str
    duration_s: float


class TakeAnalysis(BaseModel):
    """What was measured on a delivered take (the container's song_model/analysis.py); null where
    it could not be measured (silence, under 0.4 s)."""

    duration_s: float
    loudness_lufs: float | None = Field(None, description="Integrated loudness, LUFS (BS.1770-4)")
    true_peak_dbtp: float | None = Field(None, description="True peak, dBTP")
    bpm: float | None = None
    key: str | None = Field(None, examples=["A minor"])
    key_confidence: float | None = Field(None, description="Key-profile correlation, -1..1")


class TakeScores(BaseModel):
    """A take's quality scores (docs/container.md, Measuring); null where not measured."""

    text_audio: float | None = Field(None, description="CLAP cosine between the take and its style prompt")
    lyrics_accuracy: float | None = Field(
        None, description="1 - word error rate of a Whisper transcription; null for instrumentals"
    )
    bpm_error: float | None = Field(None, description="|measured - asked| / asked, when a tempo was asked")
    key_match: float | None = Field(None, description="MIREX key score (1 = same key), when a key was asked")


class TakeMeasurement(BaseModel):
    """One take's rank, analysis and scores as published (`lyrics_timing_key`: its LRC file in the
    media bucket, vocal takes only)."""

    take: int
    rank: int
    analysis: TakeAnalysis
    scores: TakeScores
    lyrics_timing_key: str | None = None


class JobResult(BaseModel):
    audio: list[AudioFile]
    cover_key: str | None = None
    lyrics: str | None = None
    prompt: str
    categories: list[str] = Field(default_factory=list)
    seed: int  # take 1's
    seeds: list[int] = Field(default_factory=list)  # one per take (empty on rows from before variants)
    duration_s: float
    sample_rate: int | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    # One per take in take order (empty on rows from before measuring); best_take is rank 1.
    takes: list[TakeMeasurement] = Field(default_factory=list)
    best_take: int | None = None

    @property
    def main_take(self) -> int:
        """The take the song's own audio_url plays: the best one (take 1 on older rows)."""
        return self.best_take or 1


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
    source: JobSource | None = None  # audio-in modes only


def queued_job(user_id: str, request: dict, **fields: Any) -> Job:
    """A new job row, as a song request makes it: queued, now; `fields` add its price, source..."""
    now = utc_now()
    values = {"job_id": new_job_id(), "created_at": now, "updated_at": now} | fields
    return Job(user_id=user_id, status=JobStatus.QUEUED, stage=JobStep.QUEUED, request=request, **values)


class User(BaseModel):
    user_id: str
    credits: int
    reserved_credits: int = 0  # the prices of the user's songs in flight
    created_at: str

    @property
    def available_credits(self) -> int:
        return self.credits - self.reserved_credits
