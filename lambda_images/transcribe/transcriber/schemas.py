"""The function's event and result: the contract with the workflow task that invokes it."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from song_model.schemas import Output  # the model container's output folder, copied into the image

from .errors import InvalidRequest

Event = TypeVar("Event", bound=BaseModel)

# Stem track names (the model container's STEM_TRACKS: ACE-Step 1.5's extract classes) and the
# object names the container writes: `audio.{fmt}` for a song, `stem-{track}.{fmt}` per stem.
_TRACK_PATTERN = r"^[a-z][a-z_]{0,31}$"


class Source(BaseModel):
    # Unknown fields are ignored, as the model container does: a field added by a newer workflow
    # must not fail jobs on an older image.
    model_config = ConfigDict(extra="ignore")

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    # A stem's track name; None for a whole song or an upload.
    track: str | None = Field(default=None, pattern=_TRACK_PATTERN)


class TranscribeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(min_length=1, max_length=128)
    # One song or upload, or a stems song's tracks (up to the 12 stem classes).
    sources: list[Source] = Field(min_length=1, max_length=12)
    output: Output
    # The MIDI file's tempo (the song's bpm when known): note times are the same at any tempo,
    # the tempo places the bar lines a DAW draws.
    tempo_bpm: float = Field(default=120.0, ge=30, le=300)

    @field_validator("sources")
    @classmethod
    def _one_file_per_name(cls, value: list[Source]) -> list[Source]:
        tracks = [source.track for source in value]
        if len(set(tracks)) != len(tracks):
            raise ValueError("each source needs its own track name (None at most once)")
        return value


class MidiObject(BaseModel):
    track: str | None
    bucket: str
    key: str
    content_type: str = "audio/midi"
    size_bytes: int
    notes: int
    duration_s: float  # of the audio it transcribes


class TranscribeResult(BaseModel):
    job_id: str
    midi: list[MidiObject]
    seconds: float  # wall time of the whole invocation


def midi_key(prefix: str, track: str | None) -> str:
    """`audio.mid` for a song or an upload, `stem-{track}.mid` per stem (the audio files' names)."""
    return f"{prefix}{'audio' if track is None else f'stem-{track}'}.mid"


def parse_event(model: type[Event], event: Any, what: str) -> Event:
    """The invoking event as `model`; a malformed one is the caller's bug (InvalidRequest)."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidRequest(f"the event is not {what}: {exc}") from None
