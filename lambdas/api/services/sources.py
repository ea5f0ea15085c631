"""Audio-in modes at submission: find the source track, check the request against it, and say how
much audio the job renders (what its price is computed from).

Every refusal here happens before anything is reserved or written, so nothing is charged:
another user's (or a missing) upload or song is 404, an upload still being checked or a song still
being made is 409, a rejected or expired upload, a failed song or a window outside the track is 422.

The source also gives a cover, repaint or extend its default tempo and key (`source_defaults`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.common.clock import utc_now
from lambdas.common.errors import InvalidBody, ModeUnavailable, NotFound, SourceNotReady, SourceUnusable
from lambdas.common.models import (
    MAX_RENDER_S,
    UNFINISHED,
    AudioFile,
    AudioInRequest,
    CoverRequest,
    ExtendRequest,
    Job,
    JobSource,
    JobStatus,
    RepaintRequest,
    StemsRequest,
    TranscribeRequest,
)
from lambdas.common.observability import logger
from lambdas.common.request_fields import BPM_MAX, BPM_MIN, KEY_PATTERN
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import MediaBucket, UploadsBucket
from lambdas.common.store.uploads import UploadStore, sync_retention_tag
from lambdas.common.transcription import best_audio_key
from lambdas.common.uploads import UploadStatus

# A window end a hair past the measured length (rounding in a client) is the end of the track
# (a persona's window too: lambdas/api/services/personas.py).
END_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class SourceResolver:
    jobs: JobStore
    uploads: UploadStore
    objects: UploadsBucket  # the uploads bucket
    media: MediaBucket  # published songs, sources too
    stems_enabled: bool
    upload_expiry_days: int

    def resolve(self, user_id: str, request: AudioInRequest) -> JobSource:
        """The source's S3 location and length, after every check against the request."""
        if isinstance(request, StemsRequest) and not self.stems_enabled:
            raise ModeUnavailable(
                "stems are not available on this deployment (the base checkpoint is not loaded)"
            )
        ref = request.source
        stems_allowed = isinstance(request, TranscribeRequest)  # each track gets its own MIDI file
        source = self.locate(
            user_id, upload_id=ref.upload_id, song_id=ref.song_id, stems_allowed=stems_allowed
        )
        check_against_source(request, source.duration_s)
        return source

    def locate(
        self,
        user_id: str,
        *,
        upload_id: str | None = None,
        song_id: str | None = None,
        take: int = 1,
        stems_allowed: bool = False,
    ) -> JobSource:
        """One track of the user's: a ready upload, or take `take` of a processed song (404, 409 or
        422 otherwise; a stems song only where `stems_allowed`). Audio-in songs and personas are made
        from these."""
        if upload_id:
            return self._upload(user_id, upload_id)
        return self._song(user_id, str(song_id), take, stems_allowed=stems_allowed)

    def start_job(self, user_id: str, source: JobSource, job_id: str) -> None:
        """List the job on its source upload (DELETE /uploads refuses while it is in flight).
        Before the job row exists, so a cancel of the job always comes after it."""
        if not source.upload_id:
            return
        if not self.uploads.start_job(source.upload_id, user_id, job_id):
            # Deleted (or replaced) since it was resolved a moment ago.
            raise SourceUnusable(
                "the upload was deleted or replaced meanwhile; check it with GET /uploads/{id}",
                details={"upload_id": source.upload_id},
            )

    def forget_job(self, source: JobSource | None, job_id: str) -> None:
        """The job will never run (refused or not started): off its upload's list. Best effort:
        DELETE /uploads also drops listed jobs that are not in flight."""
        if source is None or not source.upload_id:
            return
        try:
            self.uploads.forget_jobs(source.upload_id, {job_id})
        except (ClientError, BotoCoreError):
            logger.warning("could not unlist the job from its upload", extra={"upload_id": source.upload_id})

    def release_song(self, upload_id: str, job_id: str) -> None:
        """A song made from the upload is deleted: with no processed song left, it expires again."""
        self.uploads.release_song(upload_id, job_id, self.upload_expiry_days)
        sync_retention_tag(self.uploads, self.objects, upload_id)

    def _upload(self, user_id: str, upload_id: str) -> JobSource:
        upload = self.uploads.get_for_user(upload_id, user_id)
        if upload.status is UploadStatus.PENDING:
            raise SourceNotReady(
                "the upload has not been checked yet: upload the file with the form from POST /uploads, "
                "then retry once GET /uploads/{id} says ready",
                details={"upload_id": upload_id, "status": upload.status.value},
            )
        if upload.status is UploadStatus.REJECTED:
            reason = upload.error.message if upload.error else "it could not be used"
            raise SourceUnusable(
                f"the upload was rejected: {reason}",
                details={"upload_id": upload_id, "status": upload.status.value},
            )
        if upload.expires_at and upload.expires_at < utc_now():
            raise SourceUnusable(
                f"the upload expired at {upload.expires_at}; upload the file again",
                details={"upload_id": upload_id},
            )
        if upload.duration_s is None:  # pragma: no cover - a ready row always carries its length
            raise SourceUnusable("the upload has no measured length", details={"upload_id": upload_id})
        analysis = upload.analysis
        return JobSource(
            upload_id=upload_id,
            bucket=self.objects.name,
            key=upload.key,
            duration_s=upload.duration_s,
            bpm=_usable_bpm(analysis.bpm if analysis else None),
            musical_key=_usable_key(analysis.key if analysis else None),
        )

    def _song(self, user_id: str, song_id: str, take: int = 1, *, stems_allowed: bool = False) -> JobSource:
        try:
            job = self.jobs.get_for_user(song_id, user_id)
        except NotFound:
            raise NotFound("source song not found") from None
        if job.status in UNFINISHED:
            raise SourceNotReady(
                "the source song is still being made; retry once it is processed",
                details={"song_id": song_id, "status": job.status.value},
            )
        if job.status is not JobStatus.PROCESSED or job.result is None:
            raise SourceUnusable(
                f"the source song is {job.status.value} and has no audio",
                details={"song_id": song_id, "status": job.status.value},
            )
        if not job.result.audio:
            raise SourceUnusable(
                "the source song has no audio (it is a MIDI transcription)", details={"song_id": song_id}
            )
        bpm, musical_key = _song_tempo_and_key(job)
        stems = {a.track: a for a in job.result.audio if a.track}
        if stems:
            if not stems_allowed:
                raise SourceUnusable(
                    "the source song holds separate stems, not one track; upload the stem you want to use",
                    details={"song_id": song_id},
                )
            # In the song's own order (as GET /songs/{id} lists its tracks).
            tracks = {track: _audio_key(job.result.audio, track, song_id) for track in stems}
            return JobSource(
                song_id=song_id,
                bucket=self.media.name,
                key=next(iter(tracks.values())),
                duration_s=job.result.duration_s,
                tracks=tracks,
                bpm=bpm,
                musical_key=musical_key,
            )
        # One take's mixed file: take 1 unless the caller picks another (a persona's `take`).
        key = best_audio_key(job.result.audio, None, take)
        if key is None:
            raise SourceUnusable(
                f"the source song has no take {take}", details={"song_id": song_id, "take": take}
            )
        return JobSource(
            song_id=song_id,
            bucket=self.media.name,
            key=key,
            duration_s=job.result.duration_s,
            bpm=bpm,
            musical_key=musical_key,
        )


def check_against_source(request: AudioInRequest, source_s: float) -> None:
    """Windows and lengths that only make sense with the source's length known: 422 per field."""
    problems: list[dict[str, str]] = []
    if isinstance(request, RepaintRequest):
        if request.end_s > source_s + END_TOLERANCE_S:
            problems.append(_field("end_s", f"must be within the source, which is {source_s:.2f} s long"))
    elif isinstance(request, ExtendRequest) and source_s + request.add_s > MAX_RENDER_S:
        most = max(0.0, MAX_RENDER_S - source_s)
        problems.append(
            _field(
                "add_s",
                f"the source is {source_s:.2f} s; songs end at {MAX_RENDER_S} s, so at most {most:.2f}",
            )
        )
    if problems:
        raise InvalidBody("the request does not fit the source track", problems)


def source_defaults(request: AudioInRequest, source: JobSource) -> dict[str, Any]:
    """The tempo and key a cover, repaint or extend renders in when the request leaves them out:
    the source's (an upload's measured ones; a song's requested ones, else its best take's
    measured ones). The request wins: a field
    it sets is never replaced, and a source without a measured tempo or key adds nothing."""
    if not isinstance(request, CoverRequest | RepaintRequest | ExtendRequest):
        return {}
    defaults: dict[str, Any] = {}
    if request.bpm is None and source.bpm is not None:
        defaults["bpm"] = source.bpm
    if request.key is None and source.musical_key is not None:
        defaults["key"] = source.musical_key
    return defaults


def _song_tempo_and_key(job: Job) -> tuple[int | None, str | None]:
    """A song's tempo and key: what it was asked for, else what its best take measured."""
    assert job.result is not None
    best = next((t for t in job.result.takes if t.rank == 1), None)
    measured = best.analysis if best else None
    bpm = job.request.get("bpm") or _usable_bpm(measured.bpm if measured else None)
    return bpm, job.request.get("key") or _usable_key(measured.key if measured else None)


def _usable_bpm(measured: float | None) -> int | None:
    """A measured tempo as a request's bpm (a whole number in the accepted range), or None."""
    if measured is None:
        return None
    bpm = round(measured)
    return bpm if BPM_MIN <= bpm <= BPM_MAX else None


def _usable_key(measured: str | None) -> str | None:
    """A measured key as a request's key (the request's own spelling, KEY_PATTERN), or None: the
    container refuses any other, after the credits are reserved."""
    return measured if measured is not None and re.fullmatch(KEY_PATTERN, measured) else None


def rendered_duration_s(request: AudioInRequest, source: JobSource) -> float:
    """The length one take renders: extend the longer canvas, the others the source's length.
    The price multiplies it by the takes and tracks (lambdas/common/pricing.request_price)."""
    if isinstance(request, ExtendRequest):
        return source.duration_s + request.add_s
    return source.duration_s


def _audio_key(audio: list[AudioFile], track: str | None, song_id: str) -> str:
    key = best_audio_key(audio, track)
    if key is None:  # pragma: no cover - every processed song has one of these formats
        raise SourceUnusable("the source song has no audio file", details={"song_id": song_id})
    return key


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": f"body.{name}", "message": message, "type": "value_error"}
