"""Domain models shared by the API, the workflow tasks and the callback."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from .clock import new_job_id, utc_now
from .measurements import TakeMeasurement
from .persona_refs import JobPersona, PersonaHeard, WithPersona
from .request_fields import (
    Bpm,
    Mastering,
    MusicalKey,
    SafeText,
    SourceRef,
    StrictModel,
    WebhookUrl,
    no_repeats,
)
from .url_safety import MAX_URL_CHARS

MAX_DESCRIPTION_CHARS = 1_000
MAX_PROMPT_CHARS = 500
MAX_LYRICS_CHARS = 5_000
MAX_TITLE_CHARS = 120
AudioFormat = Literal["wav", "mp3", "flac"]
MIDI_FORMAT = "mid"
# A stems request's formats: the audio formats, and "mid" for each track transcribed to MIDI.
StemFormat = Literal["wav", "mp3", "flac", "mid"]


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


class _RequestOptions(StrictModel):
    """Options of every mode: a title and where the song's lifecycle events go."""

    title: SafeText | None = Field(None, min_length=1, max_length=MAX_TITLE_CHARS)
    webhook_url: WebhookUrl | None = Field(
        None,
        max_length=MAX_URL_CHARS,
        description=(
            "https URL that receives the song's lifecycle events, signed per Standard Webhooks; port "
            "443 (the default) or 8443 only, and its host must resolve to public addresses only "
            "(checked now and at every delivery)"
        ),
    )


class _RenderOptions(_RequestOptions):
    """Options of the modes that render audio; text modes add length, instrumental and metadata
    (_SongOptions)."""

    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    # null = the configured checkpoint's recommended values (ACE-Step turbo: 8 steps, no guidance;
    # base: 50 steps, guidance 7.0); ranges as in ACE-Step 1.5's INFERENCE.md.
    guidance_scale: float | None = Field(None, ge=1.0, le=15.0)
    inference_steps: int | None = Field(None, ge=1, le=100)
    formats: Annotated[list[AudioFormat], AfterValidator(no_repeats)] = Field(
        default_factory=lambda: ["wav"], min_length=1, max_length=3, json_schema_extra={"uniqueItems": True}
    )
    # Stored with the defaults filled in, so the container is told the level explicitly.
    mastering: Mastering | None = Field(
        default_factory=Mastering,
        description=(
            "The delivered level: absent = -14 LUFS / -1 dBTP, either field may be left out; null = the "
            "model's raw level (repaint and extend keep their untouched samples bit-identical only then)"
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
    bpm: Bpm = None
    key: MusicalKey = None
    time_signature: Literal[2, 3, 4, 6] | None = None
    vocal_language: str | None = Field(None, pattern=r"^[a-z]{2}$", examples=["en"])


class DescriptionRequest(_SongOptions, WithPersona):
    mode: Literal["description"]
    description: SafeText = Field(min_length=3, max_length=MAX_DESCRIPTION_CHARS)


class CustomLyricsRequest(_SongOptions, WithPersona):
    mode: Literal["custom_lyrics"]
    prompt: SafeText = Field(min_length=3, max_length=MAX_PROMPT_CHARS)
    lyrics: SafeText = Field(min_length=1, max_length=MAX_LYRICS_CHARS)


class DescribedLyricsRequest(_SongOptions, WithPersona):
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


class _AudioInOptions(_RenderOptions):
    source: SourceRef


class _SampledFromSource(_AudioInOptions):
    """The audio-in modes that sample new audio (and so can render several takes), in a tempo and
    key: absent, the source's (an upload's measured ones; a song's requested ones, else its best
    take's measured ones); given, the request's (lambdas/api/services/sources.source_defaults)."""

    variants: Variants = 1
    bpm: Bpm = None
    key: MusicalKey = None


class CoverRequest(_SampledFromSource, WithPersona):
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
    """Split the source into `tracks`: one audio file per track (and format), and with "mid" in
    `formats` one MIDI file per track as well."""

    mode: Literal["stems"]
    formats: Annotated[list[StemFormat], AfterValidator(no_repeats)] = Field(  # type: ignore[assignment]
        default_factory=lambda: ["wav"],
        min_length=1,
        max_length=4,
        # `contains`: the schema states the validator's rule too (at least one audio format).
        json_schema_extra={"uniqueItems": True, "contains": {"enum": list(get_args(AudioFormat))}},
        description='Audio formats of every track; "mid" adds each track transcribed to MIDI',
    )
    # One take only: extraction separates the source; takes would not differ.
    variants: int = Field(1, ge=1, le=1, description="Stems have one take (one file per track)")
    tracks: Annotated[list[StemTrack], AfterValidator(no_repeats)] = Field(
        min_length=1, max_length=4, json_schema_extra={"uniqueItems": True}
    )

    @field_validator("formats")
    @classmethod
    def _an_audio_format(cls, value: list[str]) -> list[str]:
        if all(fmt == MIDI_FORMAT for fmt in value):
            raise ValueError('needs an audio format besides "mid": the MIDI is made from the audio')
        return value


class TranscribeRequest(_RequestOptions):
    """Audio to MIDI: the source transcribed note by note (no GPU). A song made of stems gives one
    MIDI file per track."""

    mode: Literal["transcribe"]
    source: SourceRef


TextRequest = DescriptionRequest | CustomLyricsRequest | DescribedLyricsRequest
AudioInRequest = CoverRequest | RepaintRequest | ExtendRequest | StemsRequest | TranscribeRequest
SongRequest = Annotated[TextRequest | AudioInRequest, Field(discriminator="mode")]
# The `mode` values, read from the models so they cannot drift apart.
SONG_MODES: tuple[str, ...] = tuple(
    get_args(m.model_fields["mode"].annotation)[0] for m in get_args(get_args(SongRequest)[0])
)
AUDIO_IN_MODES: tuple[str, ...] = tuple(
    get_args(m.model_fields["mode"].annotation)[0] for m in get_args(AudioInRequest)
)
TRANSCRIBE_MODE = "transcribe"


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
    A transcription of a stems song reads each track: `tracks` (track -> key in `bucket`; `key`
    is the first of them). `bpm`, `musical_key`: the source's tempo and key, when known: an upload's
    measured ones (its analysis), a song's requested ones (else its best take's measured ones).
    """

    upload_id: str | None = None
    song_id: str | None = None
    bucket: str
    key: str
    duration_s: float
    tracks: dict[str, str] | None = None
    bpm: int | None = None
    musical_key: str | None = None  # "A minor" (`key` is the object's)


class MidiFile(BaseModel):
    """A published MIDI file: the song's (or upload's) when `track` is None, else one stem's."""

    key: str
    track: str | None = None
    notes: int = Field(ge=0)


class JobResult(BaseModel):
    # A transcription has no audio, prompt nor seed of its own: only `midi` and the length.
    audio: list[AudioFile] = Field(default_factory=list)
    midi: list[MidiFile] = Field(default_factory=list)
    cover_key: str | None = None
    lyrics: str | None = None
    prompt: str | None = None
    categories: list[str] = Field(default_factory=list)
    seed: int | None = None  # take 1's
    seeds: list[int] = Field(default_factory=list)  # one per take (empty on rows from before variants)
    duration_s: float
    sample_rate: int | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    # One per take in take order (empty on rows from before measuring); best_take is rank 1.
    takes: list[TakeMeasurement] = Field(default_factory=list)
    best_take: int | None = None
    persona: PersonaHeard | None = None  # songs made with a persona

    @property
    def main_take(self) -> int:
        """The take the song's own audio_url plays: the best one (take 1 on older rows)."""
        return self.best_take or 1


class Job(BaseModel):
    """One row of the jobs table (the API shows only some of it: see lambdas/api/schemas.py)."""

    # The step is stored (and shown by the API) as `stage`, the contract's name for it; in the code
    # "stage" is the deployment's. Rows are written with `by_alias` (store/jobs.py).
    model_config = ConfigDict(populate_by_name=True)

    job_id: str
    user_id: str
    status: JobStatus
    step: JobStep = Field(alias="stage")
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
    persona: JobPersona | None = None  # songs made with a persona


def queued_job(user_id: str, request: dict, **fields: Any) -> Job:
    """A new job row, as a song request makes it: queued, now; `fields` add its price, source..."""
    now = utc_now()
    values = {"job_id": new_job_id(), "created_at": now, "updated_at": now} | fields
    return Job(user_id=user_id, status=JobStatus.QUEUED, step=JobStep.QUEUED, request=request, **values)


class User(BaseModel):
    user_id: str
    credits: int
    reserved_credits: int = 0  # the prices of the user's songs in flight
    created_at: str

    @property
    def available_credits(self) -> int:
        return self.credits - self.reserved_credits
