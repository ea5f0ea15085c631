"""Publish a generated song: copy the manifest's media (audio, timed lyrics, cover) into the media
bucket, keep each take's measurements, drop the scratch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambdas.common import media_keys
from lambdas.common.inference import Manifest, request_key, scratch_media_prefix
from lambdas.common.measurements import TakeMeasurement
from lambdas.common.models import AudioFile, JobResult, JobSource, JobStep, MidiFile
from lambdas.common.store.dynamo import error_code
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import MISSING, MediaBucket, ScratchBucket
from lambdas.common.transcription import audio_formats, midi_scratch_prefix, plan_for_stems, wants_midi

from .errors import InvalidManifest, JobNotRunnable


@dataclass(frozen=True)
class Publisher:
    """The Publish task. Returns `result`: the JobResult (JSON) that ChargeAndComplete stores with
    the charge."""

    jobs: JobStore
    scratch: ScratchBucket
    media: MediaBucket

    def publish(self, job_id: str, user_id: str, manifest_data: dict[str, Any]) -> dict[str, Any]:
        """Returns `result` and `transcription`: for stems with "mid", the published tracks the
        Transcribe task reads next (lambdas/common/transcription.py), else None."""
        manifest = _validated(manifest_data, job_id, self.scratch.name)
        if not self.jobs.set_step(job_id, JobStep.PUBLISHING):
            # Canceled (or failed) while the GPU worked: its media is never published nor charged.
            raise JobNotRunnable(f"job {job_id} is no longer processing")
        job = self.jobs.get(job_id)
        request = job.request
        check_complete(manifest, request, job.persona.sha256 if job.persona else None)

        audio: list[AudioFile] = []
        copies: list[tuple[str, str, str]] = []  # (source key, destination key, content type)
        for item in manifest.audio:
            destination = media_keys.audio_key(user_id, job_id, item.format, item.track, item.take)
            copies.append((item.key, destination, item.content_type))
            audio.append(AudioFile(format=item.format, key=destination, track=item.track, take=item.take))
        takes: list[TakeMeasurement] = []
        for take in manifest.takes:
            lrc = None
            if take.lyrics_timing is not None:
                lrc = media_keys.lyrics_timing_key(user_id, job_id, take.take)
                copies.append((take.lyrics_timing.key, lrc, take.lyrics_timing.content_type))
            takes.append(
                TakeMeasurement(
                    take=take.take,
                    rank=take.rank,
                    analysis=take.analysis,
                    scores=take.scores,
                    lyrics_timing_key=lrc,
                )
            )
        cover = None
        if manifest.cover:
            cover = media_keys.cover_key(user_id, job_id)
            copies.append((manifest.cover.key, cover, manifest.cover.content_type))

        for source, destination, content_type in copies:
            self._copy(source, destination, content_type)
        # Scratch expires with the bucket's lifecycle rule anyway: a failed delete only warns.
        self.scratch.delete_keys([source for source, _, _ in copies] + [request_key(job_id)])

        result = JobResult(
            audio=audio,
            cover_key=cover,
            lyrics=manifest.lyrics,
            prompt=manifest.prompt,
            categories=manifest.categories,
            seed=manifest.seed,
            seeds=manifest.take_seeds,
            duration_s=manifest.duration_s,
            sample_rate=manifest.sample_rate,
            timings=manifest.timings.model_dump(),
            takes=takes,
            best_take=manifest.best_take,
            persona=manifest.persona.model_dump() if manifest.persona else None,
        )
        transcription = None
        if wants_midi(request):
            transcription = plan_for_stems(self.media.name, audio, request.get("bpm"))
        return {"result": result.model_dump(mode="json", exclude_none=True), "transcription": transcription}

    def publish_midi(
        self, job_id: str, user_id: str, midi_data: list[dict[str, Any]], published: dict[str, Any] | None
    ) -> dict[str, Any]:
        """PublishMidi: the transcriber's files (this job's scratch `midi/` objects only) copied in
        beside the song's audio; returns the result with them (a transcription's has only them)."""
        try:
            files = [TranscribedMidi.model_validate(item) for item in midi_data]
        except ValidationError as exc:
            raise InvalidManifest(f"the transcription is not valid: {exc.error_count()} errors") from None
        prefix = midi_scratch_prefix(job_id)
        for item in files:
            if item.bucket != self.scratch.name or not item.key.startswith(prefix) or ".." in item.key:
                raise InvalidManifest(f"s3://{item.bucket}/{item.key} is outside the job's MIDI prefix")
        job = self.jobs.get(job_id)
        ordered = _ordered_midi_tracks(job.source, published)
        delivered = [item.track for item in files]
        if sorted(delivered, key=str) != sorted(ordered, key=str):
            # As for audio: what was not delivered is never published nor charged.
            raise InvalidManifest(f"the transcription holds MIDI of {delivered}, {ordered} were ordered")
        if not self.jobs.set_step(job_id, JobStep.PUBLISHING):
            raise JobNotRunnable(f"job {job_id} is no longer processing")
        midi: list[MidiFile] = []
        for item in files:
            destination = media_keys.midi_key(user_id, job_id, item.track)
            self._copy(item.key, destination, MIDI_CONTENT_TYPE)
            midi.append(MidiFile(key=destination, track=item.track, notes=item.notes))
        self.scratch.delete_keys([item.key for item in files])
        if published is None:  # a transcription: the length is the longest source's
            result = JobResult(midi=midi, duration_s=max(item.duration_s for item in files))
        else:
            result = JobResult.model_validate(published).model_copy(update={"midi": midi})
        return {"result": result.model_dump(mode="json", exclude_none=True)}

    def _copy(self, source: str, destination: str, content_type: str) -> None:
        try:
            self.media.copy_in(self.scratch, source, destination, content_type)
        except ClientError as exc:
            # S3 reads after writes consistently: a file the container named and never wrote is
            # not coming (the job fails uncharged, not retried as an internal error).
            if error_code(exc) in MISSING:
                raise InvalidManifest(f"the manifest names {source}, which does not exist") from None
            raise


MIDI_CONTENT_TYPE = "audio/midi"


def _ordered_midi_tracks(source: JobSource | None, published: dict[str, Any] | None) -> list[str | None]:
    """One MIDI file per published stem track (stems with "mid"), per track of a stems song
    (transcribe), or one for the song or upload (transcribe)."""
    if published is not None:
        return sorted({a.track for a in JobResult.model_validate(published).audio if a.track})
    if source is not None and source.tracks:
        return sorted(source.tracks)
    return [None]


class TranscribedMidi(BaseModel):
    """One file of the transcriber's result (lambda_images/transcribe: schemas.MidiObject)."""

    model_config = ConfigDict(extra="ignore")

    track: str | None = Field(None, pattern=r"^[a-z][a-z_]{0,31}$")
    bucket: str
    key: str
    notes: int = Field(ge=0)
    duration_s: float = Field(ge=0)


# The container cuts every render to the ordered length (to the sample); half a second allows for
# rounding and nothing more: a result that is short by more is not what was paid for.
DURATION_TOLERANCE_S = 0.5


def check_complete(manifest: Manifest, request: dict[str, Any], persona_sha256: str | None = None) -> None:
    """The result holds exactly what was ordered, or the job fails uncharged (InvalidManifest).

    Every file ordered is paid for: each take (`variants`) in each format, or for stems each ordered
    track in each format (and no mixed track); a song from text has no stem tracks; and the audio
    is as long as ordered; every take whose words Whisper heard (`scores.lyrics_accuracy` set:
    scoring ran on a vocal take) has its timed lyrics; a song ordered with a persona was
    conditioned on that persona's clip (the checksum the API recorded, `persona_sha256`). A faulty
    container (an image older than a feature, a render that stopped early) must never be published
    and charged in full.
    """
    takes = int(request.get("variants") or 1)
    if len(manifest.take_seeds) != takes:
        raise InvalidManifest(f"the manifest holds {len(manifest.take_seeds)} takes, {takes} were ordered")
    formats = audio_formats(list(request.get("formats") or ["wav"]))  # "mid" comes after the GPU
    tracks: list[str | None] = list(request.get("tracks") or []) if request.get("mode") == "stems" else []
    ordered = {
        (take, track, fmt) for take in range(1, takes + 1) for track in (tracks or [None]) for fmt in formats
    }
    delivered = {(a.take, a.track, a.format) for a in manifest.audio}
    if missing := ordered - delivered:
        raise InvalidManifest(f"the manifest lacks {len(missing)} ordered files: {_files(missing)}")
    if extra := delivered - ordered:
        raise InvalidManifest(f"the manifest holds {len(extra)} files not ordered: {_files(extra)}")
    heard = [t for t in manifest.takes if t.scores.lyrics_accuracy is not None]
    if untimed := [t.take for t in heard if t.lyrics_timing is None]:
        raise InvalidManifest(f"the manifest lacks the timed lyrics of take(s) {untimed}")
    length = float(request.get("duration_s") or 0)
    if abs(manifest.duration_s - length) > DURATION_TOLERANCE_S:
        raise InvalidManifest(f"the audio is {manifest.duration_s:.3f} s long, {length:.3f} s were ordered")
    conditioned_on = manifest.persona.sha256 if manifest.persona else None
    if conditioned_on != persona_sha256:
        raise InvalidManifest(
            f"the song was ordered with persona clip {persona_sha256}, the manifest records {conditioned_on}"
        )


def _files(files: set[tuple[int, str | None, str]]) -> str:
    shown = sorted(files, key=lambda f: (f[0], f[1] or "", f[2]))[:6]
    return ", ".join(f"take {take} {track or 'mix'} {fmt}" for take, track, fmt in shown)


def _validated(data: dict[str, Any], job_id: str, bucket: str) -> Manifest:
    """Only this job's scratch objects in the inference bucket may be published."""
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise InvalidManifest(f"the manifest is not valid: {exc.error_count()} errors") from None
    prefix = scratch_media_prefix(job_id)
    objects = [(a.bucket, a.key) for a in manifest.audio]
    if manifest.cover:
        objects.append((manifest.cover.bucket, manifest.cover.key))
    objects += [(t.lyrics_timing.bucket, t.lyrics_timing.key) for t in manifest.takes if t.lyrics_timing]
    for obj_bucket, key in objects:
        if obj_bucket != bucket or not key.startswith(prefix) or ".." in key:
            raise InvalidManifest(f"s3://{obj_bucket}/{key} is outside the job's scratch prefix")
    files = [(a.take, a.track, a.format) for a in manifest.audio]  # one per take, track and format
    takes = {a.take for a in manifest.audio}
    seeds = manifest.take_seeds
    if manifest.job_id != job_id or len(set(files)) != len(files):
        raise InvalidManifest("the manifest does not match the job")
    if takes != set(range(1, len(seeds) + 1)) or seeds[0] != manifest.seed:
        raise InvalidManifest("the manifest's takes do not match its seeds")
    measured = [(t.take, t.seed) for t in manifest.takes]
    if measured != list(enumerate(seeds, start=1)):
        raise InvalidManifest("the manifest's measurements do not match its takes")
    ranks = {t.rank: t.take for t in manifest.takes}
    if set(ranks) != set(range(1, len(seeds) + 1)) or ranks[1] != manifest.best_take:
        raise InvalidManifest("the manifest's ranking is not one rank per take with best_take first")
    return manifest
