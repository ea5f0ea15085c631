"""Request and manifest schemas: the contract with start_inference and inference_callback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

AudioFormat = Literal["wav", "mp3", "flac"]
TimeSignature = Literal[2, 3, 4, 6]

# Music metadata rules (the API in lambdas/common/models.py applies the same ones; the songwriter's
# proposals are checked against them too). Ranges from ACE-Step 1.5's INFERENCE.md: bpm 30-300,
# time signature 2, 3, 4 or 6 (6/8), key like "C major" / "F# minor", vocal language ISO 639-1.
BPM_MIN, BPM_MAX = 30, 300
KEY_PATTERN = r"^[A-G][#b]? (major|minor)$"
LANGUAGE_PATTERN = r"^[a-z]{2}$"


def _no_repeats(value: list[str], info: ValidationInfo) -> list[str]:
    """A list of distinct items: a repeated one is refused, not dropped."""
    if len(set(value)) != len(value):
        raise ValueError(f"{info.field_name} must not repeat")
    return value


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = Field(min_length=1, max_length=900)

    @field_validator("prefix")
    @classmethod
    def _prefix_is_folder(cls, value: str) -> str:
        # Keys are prefix + "audio.wav"; a prefix without the slash would glue names together.
        if not value.endswith("/") or value.startswith("/"):
            raise ValueError("must end with '/' and must not start with '/'")
        return value


class Mastering(BaseModel):
    """The delivered level (song_model/mastering.py): integrated loudness (BS.1770 / EBU R128) and
    the true-peak ceiling. The request's `mastering: null` delivers the model's raw level."""

    model_config = ConfigDict(extra="ignore")

    loudness_lufs: float = Field(default=-14.0, ge=-23.0, le=-6.0)
    true_peak_dbtp: float = Field(default=-1.0, ge=-3.0, le=0.0)


class ObjectRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)


# A persona's style text is added to the prompt (persona.styled_prompt); the API allows as much.
PERSONA_STYLE_MAX = 300


class Persona(BaseModel):
    """A persona on a text mode or a cover: the reference clip the API cut and stored when the
    persona was made (its SHA-256, recorded then, is checked on every read) and its style text.
    The container conditions ACE-Step's timbre on the clip (song_model/persona.py)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    reference: ObjectRef
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    style: str | None = Field(default=None, max_length=PERSONA_STYLE_MAX)


class _Common(BaseModel):
    # Unknown fields are ignored (not rejected): the API already rejects them for users, and an
    # extra field added by a newer workflow must not fail jobs on an older container.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    job_id: str = Field(min_length=1, max_length=128)
    instrumental: bool = False
    # The API allows 10..600 s; the container accepts from 1 s so tests and benchmarks stay short.
    duration_s: float = Field(default=180.0, ge=1.0, le=600.0)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    # Takes rendered together; take k uses seed + k - 1 (engines.take_seeds).
    variants: int = Field(default=1, ge=1, le=4)
    # None = the loaded checkpoint's recommended value (engines.MusicEngine.sampling).
    guidance_scale: float | None = Field(default=None, ge=1.0, le=15.0)
    inference_steps: int | None = Field(default=None, ge=1, le=200)
    bpm: int | None = Field(default=None, ge=BPM_MIN, le=BPM_MAX)
    key: str | None = Field(default=None, pattern=KEY_PATTERN)
    time_signature: TimeSignature | None = None
    vocal_language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN)
    formats: Annotated[list[AudioFormat], AfterValidator(_no_repeats)] = Field(
        default_factory=lambda: ["wav"], min_length=1, max_length=3
    )
    title: str | None = Field(default=None, max_length=200)
    # Absent: the default level (-14 LUFS, -1 dBTP); null: the raw level.
    mastering: Mastering | None = Field(default_factory=Mastering)
    output: Output


class DescriptionRequest(_Common):
    mode: Literal["description"]
    description: str = Field(min_length=1, max_length=2000)
    persona: Persona | None = None


class CustomLyricsRequest(_Common):
    mode: Literal["custom_lyrics"]
    prompt: str = Field(min_length=1, max_length=1000)
    lyrics: str = Field(default="", max_length=5000)
    persona: Persona | None = None

    @model_validator(mode="after")
    def _lyrics_unless_instrumental(self) -> CustomLyricsRequest:
        # A model rule, not a field rule, because instrumental songs need no lyrics.
        if not self.instrumental and not self.lyrics:
            raise ValueError("lyrics are required for mode custom_lyrics unless instrumental is true")
        return self


class DescribedLyricsRequest(_Common):
    mode: Literal["described_lyrics"]
    prompt: str = Field(min_length=1, max_length=1000)
    described_lyrics: str = Field(min_length=1, max_length=2000)
    persona: Persona | None = None


# --- audio-in modes: the workflow resolved `source` to an S3 object and `duration_s` to the length
# to render (the source's, or source + add_s for extend); see lambdas/api/sources.py.

# ACE-Step 1.5's extract track classes (the API's StemTrack).
STEM_TRACKS = (
    "vocals", "backing_vocals", "drums", "bass", "guitar", "keyboard",
    "percussion", "strings", "synth", "fx", "brass", "woodwinds",
)  # fmt: skip


class Source(BaseModel):
    model_config = ConfigDict(extra="ignore")

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    duration_s: float = Field(gt=0, le=600.0)


class _AudioIn(_Common):
    source: Source


class CoverRequest(_AudioIn):
    mode: Literal["cover"]
    prompt: str = Field(min_length=1, max_length=1000)
    lyrics: str | None = Field(default=None, max_length=5000)
    strength: float = Field(default=0.5, ge=0.0, le=1.0)
    persona: Persona | None = None


class RepaintRequest(_AudioIn):
    mode: Literal["repaint"]
    start_s: float = Field(ge=0.0, le=600.0)
    end_s: float = Field(gt=0.0, le=600.0)
    prompt: str | None = Field(default=None, max_length=1000)
    lyrics: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _window_inside(self) -> RepaintRequest:
        if not self.start_s < self.end_s <= self.duration_s + 0.05:
            raise ValueError("the window must satisfy start_s < end_s <= duration_s")
        return self


class ExtendRequest(_AudioIn):
    mode: Literal["extend"]
    add_s: float = Field(gt=0.0, le=600.0)
    prompt: str | None = Field(default=None, max_length=1000)
    lyrics: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _canvas_is_longer(self) -> ExtendRequest:
        if self.duration_s <= self.source.duration_s:
            raise ValueError("duration_s must be longer than the source for extend")
        return self


class StemsRequest(_AudioIn):
    mode: Literal["stems"]
    tracks: Annotated[list[Literal[STEM_TRACKS]], AfterValidator(_no_repeats)] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=len(STEM_TRACKS)
    )

    @model_validator(mode="after")
    def _one_take(self) -> StemsRequest:
        # Extraction is a separation of the source, not a sampled creation: takes would not differ.
        if self.variants != 1:
            raise ValueError("variants must be 1 for stems")
        return self


AudioInRequest = CoverRequest | RepaintRequest | ExtendRequest | StemsRequest
AnyRequest = DescriptionRequest | CustomLyricsRequest | DescribedLyricsRequest | AudioInRequest
SongRequest = Annotated[AnyRequest, Field(discriminator="mode")]
REQUEST_ADAPTER: TypeAdapter[SongRequest] = TypeAdapter(SongRequest)


def parse_request(data: object) -> AnyRequest:
    """Validate a decoded JSON body; raises pydantic.ValidationError."""
    return REQUEST_ADAPTER.validate_python(data)


class AudioObject(BaseModel):
    format: AudioFormat
    track: str | None = None  # stems: the track this file holds
    take: int = Field(default=1, ge=1, le=4)  # variants: which take (1-based) this file holds
    bucket: str
    key: str
    content_type: str
    size_bytes: int


class CoverObject(BaseModel):
    bucket: str
    key: str
    content_type: Literal["image/png"] = "image/png"
    width: int
    height: int
    size_bytes: int


class Timings(BaseModel):
    lyrics_s: float
    music_s: float
    cover_s: float
    # Scoring on the GPU and waiting for the mastering and analysis that ran on CPU threads
    # during the cover (song_model/measure.py).
    measure_s: float
    upload_s: float
    total_s: float


class MusicSettings(BaseModel):
    """What the music stage ran with: the request's values, the songwriter's proposals, defaults."""

    inference_steps: int | None
    guidance_scale: float | None
    bpm: int | None
    key: str | None
    time_signature: int | None
    vocal_language: str | None


class Analysis(BaseModel):
    """song_model.analysis.Analysis of the delivered audio."""

    duration_s: float
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    bpm: float | None
    key: str | None
    key_confidence: float | None


class Scores(BaseModel):
    """song_model.ranking.Scores: null where not measured (scoring off, instrumental, no bpm/key)."""

    text_audio: float | None
    lyrics_accuracy: float | None
    bpm_error: float | None
    key_match: float | None


class LyricsTimingObject(BaseModel):
    """A take's timed lyrics: an LRC file beside its audio."""

    bucket: str
    key: str
    content_type: Literal["text/plain; charset=utf-8"] = "text/plain; charset=utf-8"
    size_bytes: int
    lines: int
    measured_lines: int  # lines whose words were heard (the others have interpolated times)


class TakeResult(BaseModel):
    take: int = Field(ge=1, le=4)
    seed: int
    rank: int = Field(ge=1, le=4)  # 1 = best (song_model/ranking.py)
    analysis: Analysis
    scores: Scores
    lyrics_timing: LyricsTimingObject | None  # vocal takes, when scoring is on
    gain_db: float  # the mastering gain before the limiter (0 with mastering null)


class PersonaApplied(BaseModel):
    """The persona a song was made with: its reference clip's checksum, the seconds of it the model
    heard, and the style text added to the prompt."""

    sha256: str
    reference_s: float
    style: str | None


class Manifest(BaseModel):
    job_id: str
    audio: list[AudioObject]
    cover: CoverObject | None
    sample_rate: int
    duration_s: float
    lyrics: str | None
    prompt: str
    categories: list[str] = Field(min_length=3, max_length=5)
    seed: int  # take 1's
    seeds: list[int] = Field(min_length=1, max_length=4)  # one per take; seeds[0] == seed
    engine: str
    music: MusicSettings
    # One per take, in take order (a stems result is one take: its analysis is of the stems' mix).
    takes: list[TakeResult] = Field(min_length=1, max_length=4)
    best_take: int = Field(ge=1, le=4)
    mastering: Mastering | None  # what the delivered files were mastered to; null = raw level
    timings: Timings
    persona: PersonaApplied | None = None
