"""Audio to MIDI: what the workflow's Transcribe task sends the transcriber function
(lambda_images/transcribe, its event `{job_id, sources, output, tempo_bpm}`).

The API plans a `transcribe` song's sources at submission (the execution's input carries them); the
Publish task plans a stems song's with formats "mid" from the tracks it has just published. The
state machine adds the job id and the output location (the job's scratch prefix, `midi/` below it).
"""

from __future__ import annotations

from typing import Any

from .contract import SCRATCH_MEDIA_PREFIX
from .models import MIDI_FORMAT, TRANSCRIBE_MODE, AudioFile, JobSource

# Formats read best first (lossless before lossy).
SOURCE_FORMAT_ORDER = ("wav", "flac", "mp3")
DEFAULT_TEMPO_BPM = 120  # the MIDI file's tempo when the song's is not known: bar lines only


def audio_formats(formats: list[str]) -> list[str]:
    """The audio formats of a request's `formats` (what the model container renders), in order."""
    return [fmt for fmt in formats if fmt != MIDI_FORMAT]


def wants_midi(request: dict[str, Any]) -> bool:
    """The accepted request (JSON form) asks for MIDI: the transcribe mode, or stems with "mid"."""
    return request.get("mode") == TRANSCRIBE_MODE or MIDI_FORMAT in (request.get("formats") or [])


def midi_scratch_prefix(job_id: str) -> str:
    """Where the transcriber writes a job's MIDI files (the state machine spells it the same way)."""
    return f"{SCRATCH_MEDIA_PREFIX}{job_id}/midi/"


def best_audio_key(audio: list[AudioFile], track: str | None, take: int = 1) -> str | None:
    """Take `take`'s file of `track` (None: the mixed song) in the best format to read, or None."""
    by_format = {a.format: a.key for a in audio if a.take == take and a.track == track}
    fmt = next((f for f in SOURCE_FORMAT_ORDER if f in by_format), None)
    return by_format[fmt] if fmt else None


def plan_for_source(source: JobSource) -> dict[str, Any]:
    """A `transcribe` song's sources: the upload or song, or each track of a stems song."""
    if source.tracks:
        sources = [
            {"bucket": source.bucket, "key": key, "track": track} for track, key in source.tracks.items()
        ]
    else:
        sources = [{"bucket": source.bucket, "key": source.key, "track": None}]
    return {"sources": sources, "tempo_bpm": source.bpm or DEFAULT_TEMPO_BPM}


def plan_for_stems(bucket: str, audio: list[AudioFile], bpm: int | None) -> dict[str, Any]:
    """A stems song's published tracks (one file per track) to transcribe."""
    tracks = list(dict.fromkeys(a.track for a in audio if a.track))  # the song's own order
    sources = [{"bucket": bucket, "key": best_audio_key(audio, track), "track": track} for track in tracks]
    return {"sources": sources, "tempo_bpm": bpm or DEFAULT_TEMPO_BPM}
