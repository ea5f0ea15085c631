"""Personas: a reference clip (and style text) a user keeps and sings new songs with.

The clip is cut from a source (a ready upload or one of the user's processed songs) when the persona
is made (lambdas/api/services/personas.py) and stored in the media bucket under PERSONAS_PREFIX with
its SHA-256, so the source may be deleted afterwards. A song made with a persona carries a snapshot
of it (`JobPersona`): the container reads the clip from there, checks the checksum, and conditions
ACE-Step's timbre on it (sagemaker_containers/music/song_model/persona.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .contract import PERSONAS_PREFIX
from .media_keys import is_valid_job_id, is_valid_user_id
from .models import MAX_RENDER_S, MAX_VARIANTS, SourceRef
from .persona_refs import JobPersona
from .request_fields import SafeText, StrictModel

# The container's numbers (song_model/persona.py; a test keeps them equal): ACE-Step uses at most
# 30 s of a reference, and a clip under 5 s carries too little of a voice to condition on.
REFERENCE_WINDOW_S = 30.0
MIN_REFERENCE_S = 5.0
# A clip whose peak is below -80 dBFS is silence: it would condition songs on nothing.
SILENT_PEAK = 1e-4
MAX_NAME_CHARS = 80
# The container adds the style to the prompt and accepts this much (song_model/schemas.py).
MAX_STYLE_CHARS = 300
REFERENCE_FILE = "reference.wav"


def reference_key(user_id: str, persona_id: str) -> str:
    """`personas/{user_id}/{persona_id}/reference.wav`; both ids are checked before they become a key."""
    if not is_valid_user_id(user_id) or not is_valid_job_id(persona_id):
        raise ValueError("user_id or persona_id is not safe for an S3 key")
    return f"{PERSONAS_PREFIX}{user_id}/{persona_id}/{REFERENCE_FILE}"


def _given(field: str, json_type: str) -> dict:
    """JSON Schema: `field` is present and not null."""
    return {"required": [field], "properties": {field: {"type": json_type}}}


class PersonaSourceRef(SourceRef):
    """Exactly one of `upload_id` (a ready upload) or `song_id` (one of the caller's processed
    songs; `take` picks one of its takes and goes with `song_id` only)."""

    # Each branch also says what it excludes (`not`): an upload with a song or a take, a song with an
    # upload. Plain `{"type": "null"}` properties would say the same but break the web app's types.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["upload_id"],
                    "properties": {"upload_id": {"type": "string"}},
                    "not": {"anyOf": [_given("song_id", "string"), _given("take", "integer")]},
                },
                {
                    "required": ["song_id"],
                    "properties": {"song_id": {"type": "string"}},
                    "not": _given("upload_id", "string"),
                },
            ]
        }
    )

    take: int | None = Field(None, ge=1, le=MAX_VARIANTS, description="With song_id: the take (default 1)")

    @model_validator(mode="after")
    def _take_with_song_only(self) -> PersonaSourceRef:
        if self.take is not None and self.song_id is None:
            raise ValueError("take goes with song_id only")
        return self


class PersonaRequest(StrictModel):
    """POST /personas: the clip is the `REFERENCE_WINDOW_S` seconds of the source from `start_s`."""

    name: SafeText = Field(min_length=1, max_length=MAX_NAME_CHARS)
    source: PersonaSourceRef
    start_s: float = Field(
        0.0,
        ge=0.0,
        le=MAX_RENDER_S,
        description=f"Where the reference window starts; up to {REFERENCE_WINDOW_S:g} s from there are kept "
        f"(at least {MIN_REFERENCE_S:g} s must remain in the source)",
    )
    style: SafeText | None = Field(
        None, min_length=1, max_length=MAX_STYLE_CHARS, description="Added to the prompt of every song"
    )


class ReferenceClip(BaseModel):
    """The stored clip: where it is, its checksum and what it holds."""

    bucket: str
    key: str
    sha256: str
    duration_s: float
    sample_rate: int
    channels: int
    size_bytes: int


class PersonaSource(BaseModel):
    """What the persona's clip was cut from (it may have been deleted since: the clip is a copy)."""

    upload_id: str | None = None
    song_id: str | None = None
    take: int | None = None


class Persona(BaseModel):
    """One row of the personas table."""

    persona_id: str
    user_id: str
    name: str
    style: str | None = None
    source: PersonaSource
    start_s: float
    reference: ReferenceClip
    created_at: str


def job_persona(persona: Persona) -> JobPersona:
    """The snapshot of `persona` a song request carries."""
    clip = persona.reference
    return JobPersona(
        persona_id=persona.persona_id,
        bucket=clip.bucket,
        key=clip.key,
        sha256=clip.sha256,
        style=persona.style,
    )
