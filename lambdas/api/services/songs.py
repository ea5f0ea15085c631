"""Songs: request one (credits reserved, job row written, workflow started), list, read, cancel,
delete. Independent of HTTP: the routes call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.common import media_keys
from lambdas.common.business_metrics import BusinessMetrics
from lambdas.common.clock import new_job_id
from lambdas.common.errors import InsufficientCredits, JobStateConflict, ServiceUnavailable
from lambdas.common.lifecycle import EventNotSent, LifecycleEvents
from lambdas.common.models import (
    AUDIO_IN_MODES,
    MIDI_FORMAT,
    UNFINISHED,
    Job,
    JobError,
    JobResult,
    JobStatus,
    Reservation,
    SongRequest,
    queued_job,
)
from lambdas.common.observability import logger
from lambdas.common.pricing import request_price
from lambdas.common.settings import ApiSettings
from lambdas.common.song_view import song_fields, take_fields
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.ledger import CreditLedger
from lambdas.common.store.objects import MediaBucket

from ..schemas import SongDetail, SongPage, SongSummary
from . import queue_estimate
from .executions import Executions
from .personas import PersonaService
from .sources import SourceResolver, rendered_duration_s, source_defaults

WORKFLOW_START_FAILED = "WorkflowStartFailed"
CANCELED_BY_USER = JobError(code="Canceled", message="You canceled this song. Nothing was charged.")


@dataclass(frozen=True)
class SongService:
    settings: ApiSettings
    ledger: CreditLedger
    media: MediaBucket
    executions: Executions
    sources: SourceResolver
    personas: PersonaService
    events: LifecycleEvents
    metrics: BusinessMetrics

    @property
    def jobs(self) -> JobStore:
        return self.ledger.jobs

    # --- requesting a song -------------------------------------------------------------------

    def request_song(
        self,
        user_id: str,
        request: SongRequest,
        idempotency_key: str | None = None,
        lambda_context: Any = None,
    ) -> SongDetail:
        """Accept a song request; with an idempotency key, a repeat returns the first answer."""
        if idempotency_key is None:
            return SongDetail.model_validate(self._create_song(user_id, request))
        # Imported here: only idempotent requests pay for loading Powertools idempotency.
        from .idempotency import run_once

        stored = run_once(
            lambda: self._create_song(user_id, request),
            table_name=self.settings.idempotency_table_name,
            user_id=user_id,
            key=idempotency_key,
            payload=request.model_dump(mode="json"),
            lambda_context=lambda_context,
        )
        return SongDetail.model_validate(stored)

    def _create_song(self, user_id: str, request: Any) -> dict[str, Any]:
        body = request.model_dump(mode="json")
        persona_id = getattr(request, "persona_id", None)
        # Resolved before anything is reserved: another user's (or a deleted) persona is a 404.
        persona = self.personas.for_song(user_id, persona_id) if persona_id else None
        source = None
        if request.mode in AUDIO_IN_MODES:
            # Resolved first: a refused source (404/409/422) reserves and charges nothing.
            source = self.sources.resolve(user_id, request)
            # What the job renders, stored like a text mode's length: shown, priced and rendered.
            body["duration_s"] = rendered_duration_s(request, source)
            # The tempo and key it renders in: the request's, else the source's (stored, so the
            # container is told them and scores the takes against them).
            body |= source_defaults(request, source)
        job_id = new_job_id()
        if source is not None:
            self.sources.start_job(user_id, source, job_id)
        price = request_price(
            body, self.settings.credits_per_minute, transcribe_credits=self.settings.transcribe_credits
        )
        arn = self.executions.execution_arn(job_id)
        job = queued_job(
            user_id,
            body,
            job_id=job_id,
            execution_arn=arn,
            price_credits=price,
            source=source,
            persona=persona,
        )
        try:
            # The price is held on the user from now on: a user can never have more songs in
            # flight than the credits cover. The workflow captures it or releases it, once.
            job = self.ledger.create_reserved(job, self.settings.signup_credits)
        except InsufficientCredits:
            self.metrics.song_rejected(InsufficientCredits.code)
            self.sources.forget_job(source, job_id)
            raise
        except Exception:
            self.sources.forget_job(source, job_id)
            raise
        self._start_workflow(job)
        self.metrics.song_requested(request.mode)
        logger.info("song requested", extra={"job_id": job.job_id, "mode": request.mode})
        return SongDetail(**song_fields(job)).model_dump(mode="json")

    def _start_workflow(self, job: Job) -> None:
        try:
            self.executions.start(job)
        except (ClientError, BotoCoreError):
            logger.exception("workflow start failed", extra={"job_id": job.job_id})
            # Never leave the row queued with no execution behind it, nor its credits reserved:
            # failing and releasing are one transaction, so neither can happen without the other.
            message = "The song could not be started. No credits were charged."
            if not self.ledger.fail_and_release(job.job_id, WORKFLOW_START_FAILED, message):
                self.jobs.mark_failed(job.job_id, WORKFLOW_START_FAILED, message)  # nothing reserved
            self.sources.forget_job(job.source, job.job_id)
            self.metrics.song_rejected(WORKFLOW_START_FAILED)
            raise ServiceUnavailable(
                "the song could not be started, please retry", details={"job_id": job.job_id}
            ) from None

    # --- reading and deleting songs ----------------------------------------------------------

    def list_songs(self, user_id: str, limit: int, next_token: str | None) -> SongPage:
        jobs, token = self.jobs.list_for_user(user_id, limit, next_token)
        return SongPage(songs=[SongSummary.from_job(job) for job in jobs], next_token=token)

    def get_song(self, user_id: str, job_id: str) -> SongDetail:
        job = self.jobs.get_for_user(job_id, user_id)
        fields = song_fields(job)
        if job.status is JobStatus.PROCESSED and job.result is not None:
            fields.update(self._download_fields(job, job.result))
        elif job.status is JobStatus.QUEUED:
            fields.update(
                queue_estimate.estimate(
                    job,
                    self.jobs,
                    workflow_timeout_s=self.settings.workflow_timeout_seconds,
                    renderers=self.settings.endpoint_max_instances,
                )
            )
        return SongDetail(**fields)

    def cancel_song(self, user_id: str, job_id: str) -> SongDetail:
        """queued|processing -> canceled, stop the execution, then announce `song.canceled`.
        Repeating it returns the canceled song again, stops again and announces again (in case the
        first stop or put did not go through; consumers dedupe by (job_id, type)); a song that
        already finished is a 409.
        """
        job = self.jobs.get_for_user(job_id, user_id)
        if job.status in UNFINISHED:
            canceled = self.jobs.mark_canceled(job_id, user_id, CANCELED_BY_USER)
            job = canceled or self.jobs.get_for_user(job_id, user_id)
            if canceled is not None:
                logger.info("song canceled", extra={"job_id": job_id})
        if job.status is not JobStatus.CANCELED:
            raise JobStateConflict(
                f"the song is already {job.status.value}; only a queued or processing song can be canceled",
                details={"status": job.status.value},
            )
        try:
            self.executions.stop(job, "canceled by its owner")
        except (ClientError, BotoCoreError):
            # The row is canceled (nothing can charge it any more), but the execution may still
            # hold the user's slot: the client retries and the retry stops it.
            logger.exception("stopping the execution failed", extra={"job_id": job_id})
            raise ServiceUnavailable(
                "the song is canceled but its workflow could not be stopped yet; retry",
                details={"job_id": job_id},
            ) from None
        try:
            self.events.announce(job)
        except (EventNotSent, ClientError, BotoCoreError):
            # Only this call announces a cancel: the client's retry is what sends it.
            logger.exception("announcing the cancel failed", extra={"job_id": job_id})
            raise ServiceUnavailable(
                "the song is canceled but its event could not be sent yet; retry",
                details={"job_id": job_id},
            ) from None
        return SongDetail(**song_fields(job))

    def delete_song(self, user_id: str, job_id: str) -> None:
        """Delete a finished song: media first, so a failure leaves a row the user can delete again.

        A queued or processing song is refused (409): its workflow would otherwise publish media
        and charge credits for a row that no longer exists.
        """
        job = self.jobs.get_for_user(job_id, user_id)
        if job.status in UNFINISHED:
            raise JobStateConflict(
                "the song is still being generated; delete it once it is processed or failed",
                details={"status": job.status.value},
            )
        # Normally released already when the job ended (the reaper may not have run yet after a
        # cancel); a row must never take a hold with it. Only a held one costs the extra read.
        if job.reservation is Reservation.HELD:
            self.ledger.release_reservation(job_id)
        if job.source is not None and job.source.upload_id:
            # Its upload is kept only while a processed song made from it exists. First, so a
            # failure here leaves the song to delete again rather than the upload kept for good.
            self.sources.release_song(job.source.upload_id, job_id)
        removed = self.media.delete_prefix(media_keys.job_prefix(user_id, job_id))
        self.jobs.delete(job_id, user_id)
        logger.info("song deleted", extra={"job_id": job_id, "media_objects": removed})

    def _download_fields(self, job: Job, result: JobResult) -> dict[str, Any]:
        prefix = media_keys.job_prefix(job.user_id, job.job_id)
        # Only keys under the job's own prefix are signed, whatever the row says.
        own = [a for a in result.audio if a.key.startswith(prefix)]
        take_urls: dict[int, dict[str, str]] = {}
        tracks: dict[str, dict[str, str]] = {}
        for a in own:
            urls = take_urls.setdefault(a.take, {}) if a.track is None else tracks.setdefault(a.track, {})
            urls[a.format] = self.media.presign(a.key)
        midi_url = None
        for m in result.midi:
            if not m.key.startswith(prefix):
                continue
            if m.track is None:
                midi_url = self.media.presign(m.key)
            else:
                tracks.setdefault(m.track, {})[MIDI_FORMAT] = self.media.presign(m.key)
        lrc = {
            m.take: m.lyrics_timing_key
            for m in result.takes
            if m.lyrics_timing_key and m.lyrics_timing_key.startswith(prefix)
        }
        takes = [
            {
                **take,
                **_audio_urls(take_urls.get(take["take"], {})),
                "lyrics_timing_url": self.media.presign(lrc[take["take"]]) if take["take"] in lrc else None,
            }
            for take in take_fields(result)
        ]
        cover_ok = result.cover_key is not None and result.cover_key.startswith(prefix)
        expires = datetime.now(UTC) + timedelta(seconds=self.media.url_ttl_s)
        return {
            # The song's own audio is its best take's (take 1 on rows from before ranking).
            **_audio_urls(take_urls.get(result.main_take, {})),
            "takes": takes or None,
            "tracks": tracks or None,
            "midi_url": midi_url,
            "cover_url": self.media.presign(result.cover_key) if cover_ok else None,
            "urls_expire_at": expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }


def _audio_urls(urls: dict[str, str]) -> dict[str, Any]:
    """`audio_urls` per format and `audio_url`, the first requested format's."""
    return {"audio_urls": urls or None, "audio_url": next(iter(urls.values()), None)}
