"""Response bodies of the REST API. Request bodies are the domain models in lambdas/common/models.py.

These models feed both the runtime serialization and the OpenAPI document (docs/openapi.json).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from lambdas.common.measurements import TakeAnalysis, TakeScores
from lambdas.common.models import Job, JobError, JobStatus, PersonaHeard
from lambdas.common.personas import Persona, PersonaSource
from lambdas.common.song_view import summary_fields
from lambdas.common.uploads import SourceFormat, Upload, UploadStatus


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. InsufficientCredits")
    message: str
    details: Any | None = Field(None, description="Field errors for invalid input, or extra context")


class ErrorResponse(BaseModel):
    error: ErrorBody


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class MeResponse(BaseModel):
    user_id: str
    credits: int = Field(description="The balance; songs are charged from it when they are processed")
    reserved_credits: int = Field(description="Held for the user's songs in progress (their prices)")
    available_credits: int = Field(description="credits - reserved_credits: what new songs can use")


class WebhookSecretResponse(BaseModel):
    secret: str = Field(
        description="whsec_ + base64 of 32 random bytes; the HMAC-SHA256 key is the base64-decoded part"
    )


class ApiKeyDetail(BaseModel):
    key_id: str = Field(description="The key's id (the `key_id` in paths); its secret starts with `prefix`")
    name: str
    prefix: str = Field(description="The secret's public start (`sng_<key_id>`), to recognise it by")
    created_at: str
    expires_at: str | None = Field(None, description="The key stops working then; null: never")
    last_used_at: str | None = Field(
        None, description="Last authorization with it (to the minute; null: never used)"
    )


class ApiKeyCreated(ApiKeyDetail):
    secret: str = Field(
        description="Send it as `Authorization: Bearer <secret>`. Shown this once: only its hash is kept"
    )


class ApiKeyList(BaseModel):
    keys: list[ApiKeyDetail] = Field(description="Oldest first; expired keys too, until revoked")


class SongSummary(BaseModel):
    job_id: str = Field(description="The song's id (the `song_id` in paths)")
    status: JobStatus
    stage: str
    mode: str
    title: str | None = None
    created_at: str
    updated_at: str
    error: JobError | None = None
    price_credits: int | None = Field(
        None, description="The song's price, reserved at submission and charged only if it is processed"
    )

    @classmethod
    def from_job(cls, job: Job) -> SongSummary:
        return cls(**summary_fields(job))


class SongSource(BaseModel):
    """What an audio-in song was made from."""

    upload_id: str | None = None
    song_id: str | None = None
    duration_s: float = Field(description="Length of the source track, seconds")


class SongTake(BaseModel):
    """One take of a processed song (a song requested with `variants` k has k takes; stems have one,
    measured on the stems' mix, whose files are in `tracks`)."""

    take: int = Field(description="1-based, in the order rendered")
    seed: int | None = Field(None, description="Render this seed with variants 1 to get this take again")
    rank: int | None = Field(
        None, description="1 = the song's best take (its `best_take`); null on songs made before ranking"
    )
    analysis: TakeAnalysis | None = Field(None, description="Measured on the delivered audio")
    scores: TakeScores | None = None
    audio_url: str | None = Field(None, description="Presigned URL of the first requested format")
    audio_urls: dict[str, str] | None = Field(None, description="Presigned URL per audio format")
    lyrics_timing_url: str | None = Field(
        None, description="Presigned URL of the take's timed lyrics (an LRC file): vocal takes"
    )


class SongDetail(SongSummary):
    request: dict[str, Any] = Field(description="The accepted request, defaults filled in")
    source: SongSource | None = Field(None, description="Audio-in modes: the source track")
    persona_id: str | None = Field(
        None, description="The persona the song is sung with (kept after the persona is deleted)"
    )
    persona_reference: PersonaHeard | None = Field(
        None, description="Once processed: the persona's clip the model heard (its SHA-256 and seconds)"
    )
    tracks: dict[str, dict[str, str]] | None = Field(
        None,
        description='Stems: presigned URL per track, then per format ("mid": the track\'s MIDI file)',
    )
    midi_url: str | None = Field(
        None, description="Mode transcribe of one track (an upload or a song): presigned URL of its MIDI file"
    )
    audio_url: str | None = Field(
        None, description="Presigned URL of the best take's first requested format (see `best_take`)"
    )
    audio_urls: dict[str, str] | None = Field(None, description="The best take's presigned URL per format")
    cover_url: str | None = None
    urls_expire_at: str | None = None
    lyrics: str | None = None
    prompt: str | None = None
    categories: list[str] | None = None
    seed: int | None = Field(None, description="Take 1's seed; take k used seed + k - 1")
    takes: list[SongTake] | None = Field(
        None, description="Processed songs: every take in take order with its rank, measurements and URLs"
    )
    best_take: int | None = Field(
        None, description="The take ranked 1, whose audio is the song's own `audio_url`; null on older songs"
    )
    duration_s: float | None = None
    queue_position: int | None = Field(
        None, description="While queued: songs ahead of this one for the GPU (counted up to 100)"
    )
    eta_s: int | None = Field(
        None,
        description="While queued: rough seconds until done, from recent render times (null: no history)",
    )


class UploadCreated(BaseModel):
    upload_id: str
    url: str = Field(description="POST the form here: `fields` first, then the file as the `file` field")
    fields: dict[str, str] = Field(description="Form fields to send unchanged")
    expires_at: str = Field(description="The form is accepted until then")
    max_duration_s: int = Field(description="Longer tracks are rejected by the upload check")


class UploadDetail(BaseModel):
    upload_id: str
    status: UploadStatus = Field(description="pending until the file has landed and been checked")
    filename: str
    content_type: str
    size_bytes: int
    created_at: str
    expires_at: str | None = Field(None, description="An unused upload is deleted then; null once used")
    format: SourceFormat | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    analysis: TakeAnalysis | None = Field(
        None,
        description="Length, loudness, true peak, tempo and key, as measured on a take; null until the "
        "upload is ready, or when it could not be measured (the upload is usable all the same). Its "
        "bpm and key are the defaults of cover, repaint and extend",
    )
    error: JobError | None = Field(None, description="Why the upload was rejected")

    @classmethod
    def from_upload(cls, upload: Upload) -> UploadDetail:
        return cls(**upload.model_dump(include=set(cls.model_fields)))


class SongPage(BaseModel):
    songs: list[SongSummary]
    next_token: str | None = Field(None, description="Pass as `next_token` for the next page")


class PersonaSummary(BaseModel):
    persona_id: str
    name: str
    style: str | None = None
    source: PersonaSource
    start_s: float = Field(description="Where in the source the reference clip starts, seconds")
    reference_s: float = Field(description="Length of the reference clip, seconds (5 to 30)")
    reference_sha256: str = Field(description="SHA-256 of the stored clip; songs made with it record it")
    created_at: str

    @classmethod
    def from_persona(cls, persona: Persona) -> PersonaSummary:
        return cls(**_persona_fields(persona))


class PersonaDetail(PersonaSummary):
    reference_url: str = Field(description="Presigned URL of the reference clip (WAV), to listen to it")
    urls_expire_at: str


class PersonaPage(BaseModel):
    personas: list[PersonaSummary]
    next_token: str | None = Field(None, description="Pass as `next_token` for the next page")


def _persona_fields(persona: Persona) -> dict[str, Any]:
    return {
        "persona_id": persona.persona_id,
        "name": persona.name,
        "style": persona.style,
        "source": persona.source.model_dump(),
        "start_s": persona.start_s,
        "reference_s": persona.reference.duration_s,
        "reference_sha256": persona.reference.sha256,
        "created_at": persona.created_at,
    }
