"""`POST /personas`, `GET /personas`, `GET /personas/{id}`, `DELETE /personas/{id}`, and the persona
a song request names (`persona_id`).

Making a persona cuts its reference clip from the source at once (reference_clip.py) and stores it
in the media bucket with its SHA-256: later songs read that copy, so the source upload or song may
be deleted. A refused source changes nothing: 404 (missing or another user's), 409 (still being
checked or made), 422 (rejected, expired, failed, too short or silent from `start_s`).

Deleting a persona removes its row and clip. Songs already processed with it keep their audio and
show its `persona_id`; while a song sung with it is queued or processing, DELETE answers 409
`PersonaInUse` (the song still needs the clip). A song requested in the instant a persona is being
deleted can still lose that race: the container then finds no clip and the song fails, uncharged.

The cap per user (`persona_max_per_user`, 409 `PersonaQuotaExceeded`) is checked per request, so
parallel requests can pass it by a few, as the upload quota.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.common.clock import new_job_id, utc_now, utc_timestamp
from lambdas.common.errors import InvalidBody, PersonaInUse, PersonaQuotaExceeded, SourceUnusable
from lambdas.common.models import JobPersona, JobSource
from lambdas.common.observability import logger
from lambdas.common.personas import (
    MIN_REFERENCE_S,
    Persona,
    PersonaRequest,
    PersonaSource,
    ReferenceClip,
    job_persona,
    reference_key,
)
from lambdas.common.store.dynamo import error_code
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import MISSING, Bucket, MediaBucket
from lambdas.common.store.personas import PersonaStore

from ..schemas import PersonaDetail, PersonaPage, PersonaSummary
from . import reference_clip
from .sources import END_TOLERANCE_S, SourceResolver


@dataclass(frozen=True)
class PersonaService:
    personas: PersonaStore
    sources: SourceResolver
    media: MediaBucket
    jobs: JobStore
    max_per_user: int
    workflow_timeout_s: int  # older songs have no live execution (the in-use check looks no further)

    def create(self, user_id: str, request: PersonaRequest) -> PersonaDetail:
        kept = self.personas.count_for_user(user_id)
        if kept >= self.max_per_user:
            raise PersonaQuotaExceeded(
                f"you keep {kept} personas (at most {self.max_per_user}): delete one you no longer need "
                "with DELETE /personas/{persona_id}",
                details={"personas": kept, "limit": self.max_per_user},
            )
        ref = request.source
        source = self.sources.locate(
            user_id, upload_id=ref.upload_id, song_id=ref.song_id, take=ref.take or 1
        )
        _check_window(request.start_s, source)
        persona_id = new_job_id()
        clip = self._cut(source, request.start_s)
        key = reference_key(user_id, persona_id)
        self.media.put(key, clip.wav, "audio/wav")
        persona = Persona(
            persona_id=persona_id,
            user_id=user_id,
            name=request.name,
            style=request.style,
            source=PersonaSource(upload_id=ref.upload_id, song_id=ref.song_id, take=ref.take),
            start_s=request.start_s,
            reference=ReferenceClip(
                bucket=self.media.name,
                key=key,
                sha256=clip.sha256,
                duration_s=clip.duration_s,
                sample_rate=clip.sample_rate,
                channels=clip.channels,
                size_bytes=len(clip.wav),
            ),
            created_at=utc_now(),
        )
        try:
            self.personas.create(persona)
        except Exception:
            self._delete_clip(key)  # no row points at it
            raise
        logger.info("persona created", extra={"persona_id": persona_id, "reference_s": clip.duration_s})
        return self._detail(persona)

    def list(self, user_id: str, limit: int, next_token: str | None) -> PersonaPage:
        personas, token = self.personas.list_for_user(user_id, limit, next_token)
        return PersonaPage(personas=[PersonaSummary.from_persona(p) for p in personas], next_token=token)

    def get(self, user_id: str, persona_id: str) -> PersonaDetail:
        return self._detail(self.personas.get_for_user(persona_id, user_id))

    def delete(self, user_id: str, persona_id: str) -> None:
        persona = self.personas.get_for_user(persona_id, user_id)
        since = utc_timestamp(datetime.now(UTC) - timedelta(seconds=self.workflow_timeout_s))
        in_flight = self.jobs.unfinished_with_persona(user_id, persona_id, since)
        if in_flight:
            raise PersonaInUse(
                "a song is being sung with this persona; delete it once the song is processed, failed or "
                "canceled",
                details={"persona_id": persona_id, "song_ids": sorted(in_flight)},
            )
        # The row first: a failure after it leaves an orphan clip, never a persona without its clip.
        if self.personas.delete(persona_id, user_id):
            self._delete_clip(persona.reference.key)
            logger.info("persona deleted", extra={"persona_id": persona_id})

    def for_song(self, user_id: str, persona_id: str) -> JobPersona:
        """The snapshot a song request carries; another user's (or a missing) persona is 404."""
        return job_persona(self.personas.get_for_user(persona_id, user_id))

    # --- helpers --------------------------------------------------------------------------------

    def _cut(self, source: JobSource, start_s: float) -> reference_clip.Clip:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "source"
            try:
                Bucket(source.bucket).download(source.key, str(path))
            except ClientError as exc:
                # Gone since its row was read (a 403 where the role may not list the bucket).
                if error_code(exc) not in MISSING | {"403", "AccessDenied"}:
                    raise
                raise SourceUnusable(
                    "the source's audio file no longer exists", details=_source_ids(source)
                ) from None
            try:
                clip = reference_clip.cut(path, start_s)
            except reference_clip.ClipRefused as exc:
                raise SourceUnusable(exc.message, details=_source_ids(source)) from None
        return clip

    def _delete_clip(self, key: str) -> None:
        try:
            self.media.delete(key)
        except (ClientError, BotoCoreError):
            logger.warning("could not delete a persona's clip", extra={"key": key})

    def _detail(self, persona: Persona) -> PersonaDetail:
        expires = datetime.now(UTC) + timedelta(seconds=self.media.url_ttl_s)
        return PersonaDetail(
            **PersonaSummary.from_persona(persona).model_dump(),
            reference_url=self.media.presign(persona.reference.key),
            urls_expire_at=expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
        )


def _check_window(start_s: float, source: JobSource) -> None:
    if start_s + MIN_REFERENCE_S > source.duration_s + END_TOLERANCE_S:
        most = max(0.0, source.duration_s - MIN_REFERENCE_S)
        raise InvalidBody(
            "the reference window does not fit the source",
            [
                {
                    "field": "body.start_s",
                    "message": f"the source is {source.duration_s:.2f} s long and a persona needs "
                    f"{MIN_REFERENCE_S:g} s of it, so start_s is at most {most:.2f}",
                    "type": "value_error",
                }
            ],
        )


def _source_ids(source: JobSource) -> dict[str, str]:
    return {k: v for k, v in {"upload_id": source.upload_id, "song_id": source.song_id}.items() if v}
