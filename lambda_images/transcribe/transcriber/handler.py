"""Lambda entry point (`transcriber.handler.lambda_handler`): audio objects in S3 -> MIDI files in S3.

Event (schemas.TranscribeRequest):
    {"job_id": "...", "sources": [{"bucket": "...", "key": "...", "track": "vocals" | null}, ...],
     "output": {"bucket": "...", "prefix": "scratch/JOB/"}, "tempo_bpm": 120}
Result (schemas.TranscribeResult):
    {"job_id": "...", "midi": [{"track", "bucket", "key", "content_type", "size_bytes", "notes",
     "duration_s"}, ...], "seconds": 12.3}

One source at a time goes through /tmp (the object, then the decoded audio); the MIDI files are
written only once every source has been transcribed, so a failure writes nothing. Errors are raised
as the classes of errors.py, whose names the invoking Step Functions task sees.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import numba_cache

numba_cache.use_image_cache()  # before anything imports numba (librosa, via basic-pitch)

from .errors import InvalidRequest, StorageError  # noqa: E402
from .objects import download  # noqa: E402
from .schemas import (  # noqa: E402
    MidiObject,
    Source,
    TranscribeRequest,
    TranscribeResult,
    midi_key,
    parse_event,
)
from .settings import ColdStart, Settings  # noqa: E402
from .transcribe import Transcription, transcribe_file  # noqa: E402

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

# The largest object read: a 600 s song as 48 kHz stereo 16-bit WAV is 115 MB, the largest upload
# 50 MB by default. Sized with the function's ephemeral storage (/tmp) in mind.
MAX_INPUT_BYTES = 256 * 1024 * 1024

cold_start = ColdStart(Settings)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    request = parse_event(TranscribeRequest, event, "a transcription request")
    settings = cold_start.settings()
    _check_buckets(request, settings)
    max_duration_s = settings.max_duration_s
    done: list[tuple[Source, Transcription]] = []
    for source in request.sources:
        with tempfile.TemporaryDirectory() as folder:
            path = _download(source, Path(folder))
            transcription = transcribe_file(path, source.track, request.tempo_bpm, max_duration_s)
        done.append((source, transcription))
        log.info(
            "job %s: %s transcribed: %d notes in %.1f s of audio",
            request.job_id,
            source.track or "audio",
            len(transcription.notes),
            transcription.duration_s,
        )
    written = [_upload(request, source, transcription) for source, transcription in done]
    result = TranscribeResult(
        job_id=request.job_id, midi=written, seconds=round(time.perf_counter() - started, 3)
    )
    return result.model_dump(mode="json")


def _check_buckets(request: TranscribeRequest, settings: Settings) -> None:
    """Only the service's song and upload buckets are read, only its scratch bucket written."""
    foreign = sorted({s.bucket for s in request.sources} - settings.source_buckets)
    if foreign:
        raise InvalidRequest(f"sources may not be read from {', '.join(foreign)}")
    if request.output.bucket != settings.inference_bucket_name:
        raise InvalidRequest(f"output may not be written to {request.output.bucket}")


def _download(source: Source, folder: Path) -> Path:
    return download(source.bucket, source.key, folder, max_bytes=MAX_INPUT_BYTES, purpose="transcribed")


def _upload(request: TranscribeRequest, source: Source, transcription: Transcription) -> MidiObject:
    key = midi_key(request.output.prefix, source.track)
    try:
        boto3.client("s3").put_object(
            Bucket=request.output.bucket, Key=key, Body=transcription.midi, ContentType="audio/midi"
        )
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"could not write s3://{request.output.bucket}/{key}: {exc}") from exc
    return MidiObject(
        track=source.track,
        bucket=request.output.bucket,
        key=key,
        size_bytes=len(transcription.midi),
        notes=len(transcription.notes),
        duration_s=transcription.duration_s,
    )
