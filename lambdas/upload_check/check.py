"""Decode and measure one uploaded object; record `ready` or `rejected` (and delete what is rejected).

The decoder is libsndfile through `soundfile` (WAV, MP3, FLAC, Ogg Vorbis/Opus), shipped to Lambda
as a layer built from pinned manylinux wheels (layers/audio, docs/architecture.md says why). The
whole file is decoded, block by block, not just its header: a file whose header looks fine but
whose audio does not decode is rejected here rather than failing a paid job on the GPU later.

Every message a person sees says what was wrong with the file and what is accepted.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.common.observability import logger
from lambdas.common.settings import UploadCheckSettings
from lambdas.common.store.objects import UploadsBucket
from lambdas.common.store.uploads import UploadStore
from lambdas.common.uploads import Upload, UploadStatus, parse_object_key

from .analysis import UploadAnalyzer

# libsndfile's container names -> the upload formats. RF64 and WAVEX are WAV variants.
_FORMATS = {
    "WAV": "wav",
    "WAVEX": "wav",
    "RF64": "wav",
    "MP3": "mp3",
    "MPEG": "mp3",
    "FLAC": "flac",
    "OGG": "ogg",
}
_FORMAT_NAMES = {"wav": "WAV", "mp3": "MP3", "flac": "FLAC", "ogg": "Ogg"}
ACCEPTED = "WAV, MP3, FLAC or Ogg audio"
MIN_DURATION_S = 1.0
# What the model container accepts (sagemaker_containers/music/song_model/source_audio.py; a test
# keeps the two equal): the rates audio is actually made at, from telephone (8 kHz) to studio
# (192 kHz), and a mono or stereo mix. Outside them decoding and resampling a 10-minute track
# could take more memory than the GPU instance should give one job.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 2
_BLOCK_FRAMES = 1 << 16  # ~1.4 s at 48 kHz: memory stays small whatever the length


@dataclass(frozen=True)
class Measurement:
    format: str
    duration_s: float
    sample_rate: int
    channels: int


class Rejected(Exception):
    """The file cannot be used; `message` is for the person who uploaded it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def clock(seconds: float) -> str:
    """12:05 for 725 s: how people read track lengths."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def measure(path: Path, max_duration_s: float) -> Measurement:
    """Decode the whole file; its real format, length, rate and channels, or Rejected."""
    import soundfile as sf  # the check's layer; imported here so the API never loads it

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise Rejected("NotAudio", f"the file is not audio that can be read; send {ACCEPTED}") from None
    fmt = _FORMATS.get(info.format)
    if fmt is None:
        raise Rejected("UnsupportedFormat", f"the file is {info.format_info} audio; send {ACCEPTED} instead")
    if info.samplerate <= 0 or info.channels <= 0:
        raise Rejected("NotAudio", f"the file holds no audio; send {ACCEPTED}")
    _check_shape(info.samplerate, info.channels)
    # The header's length first (cheap): a 40-minute file is refused without decoding it.
    if info.frames > 0 and info.frames / info.samplerate > max_duration_s + 1:
        raise _too_long(info.frames / info.samplerate, max_duration_s)
    frames = _decode(path, info.samplerate, max_duration_s)
    duration = frames / info.samplerate
    if duration > max_duration_s:
        raise _too_long(duration, max_duration_s)
    if duration < MIN_DURATION_S:
        raise Rejected(
            "TooShort", f"the track is {duration:.2f} s long; send at least {MIN_DURATION_S:.0f} s"
        )
    return Measurement(fmt, round(duration, 3), int(info.samplerate), int(info.channels))


def _check_shape(sample_rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise Rejected(
            "UnsupportedSampleRate",
            f"the track is sampled at {sample_rate} Hz; send audio sampled at "
            f"{MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz (44,100 or 48,000 Hz are usual)",
        )
    if channels > MAX_CHANNELS:
        raise Rejected(
            "TooManyChannels",
            f"the track has {channels} channels; send a mono or stereo mix",
        )


def _decode(path: Path, sample_rate: int, max_duration_s: float) -> int:
    """Frames decoded; stops early once past the limit. A decode error is a damaged file, and so is
    a float file holding NaN or infinite samples (they would reach the model and the meters)."""
    import numpy as np
    import soundfile as sf

    limit = int((max_duration_s + 1) * sample_rate)
    frames = 0
    try:
        with sf.SoundFile(str(path)) as audio:
            while True:
                block = audio.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0 or frames > limit:
                    break
                if not np.isfinite(block).all():
                    raise Rejected(
                        "DamagedAudio",
                        f"the audio holds samples that are not numbers (NaN or infinite) after "
                        f"{clock(frames / sample_rate)}; the file is damaged",
                    )
                frames += len(block)
    except (sf.LibsndfileError, RuntimeError):
        raise Rejected(
            "DamagedAudio",
            f"the audio stops decoding after {clock(frames / sample_rate)}; the file is damaged",
        ) from None
    return frames


def _too_long(duration_s: float, max_duration_s: float) -> Rejected:
    return Rejected(
        "TooLong", f"the track is {clock(duration_s)} long; tracks up to {clock(max_duration_s)} are accepted"
    )


@dataclass(frozen=True)
class UploadCheck:
    uploads: UploadStore
    objects: UploadsBucket
    max_duration_s: float
    analyzer: UploadAnalyzer

    @classmethod
    def from_settings(cls, settings: UploadCheckSettings) -> UploadCheck:
        objects = UploadsBucket(settings.uploads_bucket_name)
        return cls(
            UploadStore(settings.uploads_table_name),
            objects,
            settings.upload_max_duration_seconds,
            UploadAnalyzer(settings.upload_analyzer_function_name),
        )

    def check(self, key: str, etag: str | None = None) -> str:
        """Check the object at `key` once; returns what happened (for the log). Retry-safe.

        Errors worth a retry (S3, DynamoDB) propagate: the SQS message comes back, and after a few
        tries goes to the dead-letter queue with the upload still `pending`.
        """
        parsed = parse_object_key(key)
        if parsed is None:
            # Only the API's forms write here, and they pin `uploads/{user}/{id}`.
            logger.warning("object outside the upload key layout deleted", extra={"key": key})
            self.objects.delete(key)
            return "foreign"
        user_id, upload_id = parsed
        upload = self.uploads.find(upload_id)
        if upload is None or upload.user_id != user_id:
            logger.warning("object with no upload row deleted", extra={"upload_id": upload_id})
            self.objects.delete(key)
            return "orphan"
        if upload.status is UploadStatus.REJECTED:
            self.objects.delete(key)  # a retry after the row was marked but before the delete
            return "already_rejected"
        if upload.status is UploadStatus.READY:
            return self._replaced(upload, etag)
        return self._check_pending(upload)

    def _check_pending(self, upload: Upload) -> str:
        head = self.objects.head(upload.key)
        if head is None:
            return "gone"  # deleted meanwhile; a later event (if any) checks the new object
        try:
            _check_declared(upload, head)
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / "upload"
                self.objects.download(upload.key, str(path))
                measured = measure(path, self.max_duration_s)
            _check_format(upload, measured)
        except Rejected as rejected:
            return self._reject(upload, rejected)
        # Only an accepted file is measured; the analysis never decides whether it is accepted.
        analysis = self.analyzer.analyze(upload.key)
        etag = str(head.get("ETag", "")).strip('"')
        if self.uploads.mark_ready(
            upload.upload_id,
            fmt=measured.format,
            duration_s=measured.duration_s,
            sample_rate=measured.sample_rate,
            channels=measured.channels,
            etag=etag,
            analysis=analysis,
        ):
            logger.info(
                "upload ready",
                extra={
                    "upload_id": upload.upload_id,
                    "duration_s": measured.duration_s,
                    "analyzed": analysis is not None,
                },
            )
            return "ready"
        return "already_checked"

    def _replaced(self, upload: Upload, etag: str | None) -> str:
        """An ObjectCreated for a checked upload: a duplicate event, or the form used a second time.

        The form stays valid for a while after the first POST; a second file under the same key must
        not inherit the first one's check. A different ETag than the checked one rejects the upload.
        """
        if etag is None or etag.strip('"') == upload.etag:
            return "duplicate"
        if self.uploads.reject_replaced(upload.upload_id, upload.etag or ""):
            self.objects.delete(upload.key)
            logger.warning("checked upload was replaced", extra={"upload_id": upload.upload_id})
            return "replaced"
        return "duplicate"

    def _reject(self, upload: Upload, rejected: Rejected) -> str:
        # The row first, then the object: a crash in between leaves a rejected row whose retry
        # deletes the object (see `check`), never an object-less row stuck in pending.
        self.uploads.mark_rejected(upload.upload_id, rejected.code, rejected.message)
        self.objects.delete(upload.key)
        logger.info("upload rejected", extra={"upload_id": upload.upload_id, "code": rejected.code})
        return "rejected"


def _check_declared(upload: Upload, head: dict[str, Any]) -> None:
    """The POST policy pins type and size on S3; checked again here (defense in depth)."""
    size = int(head.get("ContentLength", -1))
    if size != upload.size_bytes:
        raise Rejected(
            "NotAsDeclared",
            f"the file is {size} bytes but {upload.size_bytes} were declared; upload it again",
        )
    stored_type = str(head.get("ContentType", "")).split(";")[0].strip().lower()
    if stored_type != upload.content_type:
        raise Rejected(
            "NotAsDeclared",
            f"the file was sent as {stored_type or 'no type'} but declared as {upload.content_type}",
        )


def _check_format(upload: Upload, measured: Measurement) -> None:
    declared = upload.declared_format
    if measured.format != declared:
        raise Rejected(
            "WrongType",
            f"the file is {_FORMAT_NAMES[measured.format]} audio but was declared as {upload.content_type} "
            f"({_FORMAT_NAMES[declared]}); upload it again with its real type",
        )
